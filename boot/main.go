package boot

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/nucbox/nucbox/config"
	"golang.org/x/sys/unix"
)

// Main is PID 1: it sets up the system, applies the config and then
// keeps running (reaping, watching signals and the power button, serving
// the console) until the box powers off. It never returns. Called in any
// other process it refuses and exits.
func Main() {
	if os.Getenv("_LIBCONTAINER_INITPIPE") != "" {
		// PID 1 of a container's PID namespace is this same binary
		// re-exec'd as the container init; it must never boot the box.
		fmt.Fprintln(os.Stderr, "nucbox: boot.Main called in a container init; dispatch \"init\" before checking for PID 1")
		os.Exit(2)
	}
	if os.Getpid() != 1 {
		fmt.Fprintf(os.Stderr, "nucbox: the boot sequence runs only as PID 1 (this is PID %d); "+
			"run a subcommand instead (nucbox --help)\n", os.Getpid())
		os.Exit(2)
	}
	defer func() {
		if r := recover(); r != nil {
			func() {
				defer func() { recover() }() // a second panic must not end PID 1 either
				Logf("panic: %v\n%s", r, debug.Stack())
				fail("internal", fmt.Errorf("panic: %v", r))
			}()
		}
		idle()
	}()
	run()
	idle()
}

// idle parks the main goroutine for good. A sleeping timer, unlike
// select{}, can never trip the runtime's "all goroutines are asleep"
// check, which would kill PID 1.
func idle() {
	for {
		time.Sleep(time.Hour)
	}
}

func run() {
	handleSignals()
	rootReport, rootErr := leaveInitramfs()
	mountErr := mountEarly()
	ensureStdio()
	clockErr := syncKernelClock()
	log.SetFlags(0)
	log.SetOutput(logWriter{})
	initAt := firstExec() + kernelClockOffset()
	Logf("starting as PID 1 (exec'd at %d.%06d)", initAt/time.Second, (initAt%time.Second)/time.Microsecond)
	if clockErr != nil {
		Logf("clock: warning: cannot align with the kernel's log clock: %v", clockErr)
	}
	if rootErr != nil {
		// Boot on; only containers that need pivot_root will suffer.
		Logf("rootfs: warning: staying on the initramfs: %v", rootErr)
	} else if rootReport != "" {
		Logf("rootfs: %s", rootReport)
	}
	if mountErr != nil {
		Logf("mounts: warning: %v", mountErr)
	}
	// A name for the rescue shell's prompt until the config sets one.
	unix.Sethostname([]byte(defaultHostname))
	Children.logf = func(f string, a ...any) { Logf("reaper: "+f, a...) }
	goForever("reaper", func() { Children.Run(nil) })

	// Disks and NICs are needed before the config: it may be on the data
	// partition or behind a URL.
	if _, err := loadModules(nil); err != nil {
		Logf("modules: %v", err)
	}
	// The boot loader's variables first: they name the disk the box
	// booted from, which is the one whose data partition counts.
	slot := detectBootSlot()
	setupDataPartition(slot)

	cl, clErr := ReadCmdline()
	rec, cfg, err := readConfig(cl, clErr)
	if err != nil {
		failConfig(rec.Source, err)
		if slot.OnTrial() {
			slot.Fail("config")
			return
		}
		enterMaintenance(cl, rec.Source)
		return
	}
	startAPI(rec, cfg)
	Logf("config: %s (sha256 %s)", rec.Source, rec.SHA256[:12])
	slot.WatchTrial()

	sum := Summary{Config: rec.SHA256, ConfigSource: rec.Source, InitMS: ms(initAt)}
	if err := theSupervisor.applyConfig(context.Background(), cfg, &sum); err != nil {
		if shuttingDown() {
			return // the apply was cancelled by the shutdown, not failed
		}
		var se *StageError
		if errors.As(err, &se) {
			fail(se.Stage, se.Err)
		} else {
			fail("apply", err)
		}
		slot.Fail("apply")
		return
	}
	sum.Root, _ = rootFSType()
	sum.RSSKiB = rssKiB()
	sum.ReadyMS = ms(sinceBoot())
	statusMu.Lock()
	if status.Phase == "shutting down" {
		statusMu.Unlock()
		return
	}
	status.Phase, status.Summary = "ready", &sum
	lastGood = &rec
	statusMu.Unlock()
	Logf("ready %s", sum.JSON())
	rememberGood(rec)
	slot.MarkGood()
	startConsoleShell(false)
}

// readConfig tries the config sources in order (see configSources) and
// returns the first valid config. Sources that fail are logged and
// skipped; when none is usable the error is the first failure's, which
// is usually the one the user meant to be read.
func readConfig(cl Cmdline, clErr error) (ConfigRecord, *config.Config, error) {
	if clErr != nil {
		return ConfigRecord{Source: "/proc/cmdline"}, nil, clErr
	}
	srcs, err := configSources(cl, lastGoodPath())
	if err != nil {
		return ConfigRecord{Source: "kernel command line"}, nil, err
	}
	var (
		first    error
		firstRec ConfigRecord
		tried    []string
	)
	for i, src := range srcs {
		tried = append(tried, src.String())
		name, data, err := src.Fetch(context.Background())
		rec := newConfigRecord(name, data)
		if err == nil {
			var cfg *config.Config
			if cfg, err = config.Parse(name, data); err == nil {
				if first != nil {
					Logf("config: using %s instead", name)
				}
				return rec, cfg, nil
			}
			err = &configError{err}
		}
		if errors.Is(err, errNoConfig) {
			continue
		}
		if first == nil {
			first, firstRec = err, rec
		}
		if i == len(srcs)-1 {
			break // the failure report shows it
		}
		lines := errorLines(err)
		Logf("config: %s is unusable, trying the next source: %s", name, lines[0])
		for _, l := range lines[1:] {
			Logf("    %s", l)
		}
	}
	if first == nil {
		return ConfigRecord{Source: strings.Join(tried, ", ")}, nil,
			fmt.Errorf("no config: none of %s exists", strings.Join(tried, ", "))
	}
	return firstRec, nil, first
}

// configError marks errors from parsing and validating the config, as
// opposed to not finding it.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// failConfig reports a config that could not be read or is invalid; an
// invalid one lists each problem on its own line.
func failConfig(source string, err error) {
	var ce *configError
	if !errors.As(err, &ce) {
		fail("config", err)
		return
	}
	lines := errorLines(ce.err)
	noun := "errors"
	if len(lines) == 1 {
		noun = "error"
	}
	failLines("config", fmt.Sprintf("%s: %d %s", source, len(lines), noun), lines)
}

// errorLines splits an error into one line per problem: a joined error
// (errors.Join, or any Unwrap() []error) gives its parts, otherwise its
// text is split at newlines.
func errorLines(err error) []string {
	var lines []string
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			lines = append(lines, errorLines(e)...)
		}
		return lines
	}
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// fail reports that stage failed and hands the console to the rescue
// shell; PID 1 keeps running.
func fail(stage string, err error) {
	lines := errorLines(err)
	if len(lines) <= 1 {
		failLines(stage, err.Error(), nil)
		return
	}
	failLines(stage, lines[0], lines[1:])
}

func failLines(stage, msg string, details []string) {
	statusMu.Lock()
	status.Phase, status.Stage = "failed", stage
	status.Errors = append([]string{msg}, details...)
	statusMu.Unlock()
	Logf("%s", failureText(stage, msg, details))
	Logf("rescue shell on the console (PID 1 keeps running)")
	startConsoleShell(true)
}

// failureText is the failure report: "failed: stage: message", then each
// detail indented on its own line.
func failureText(stage, msg string, details []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "failed: %s: %s", stage, msg)
	for _, d := range details {
		b.WriteString("\n    " + d)
	}
	return b.String()
}

// rssKiB returns this process's resident set size.
func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
