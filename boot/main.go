package boot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nucbox/nucbox/boot/box"
	"github.com/nucbox/nucbox/boot/slot"
	"github.com/nucbox/nucbox/config"
)

// version is the nucbox version Main was started as, for the User-Agent
// of config fetches. Main sets it before anything else runs.
var version = "dev"

func versionString() string { return version }

// Main is PID 1: it boots the box through its phases and then keeps
// running (reaping, watching signals and the power button, serving the
// console and the API) until the box powers off. It never returns.
// version is the nucbox version the binary was built as. Called in any
// other process it refuses and exits.
func Main(v string) {
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
	version = v
	p := &pid1{}
	defer func() {
		if r := recover(); r != nil {
			func() {
				defer func() { recover() }() // a second panic must not end PID 1 either
				Logf("panic: %v\n%s", r, debug.Stack())
				p.fail("internal", fmt.Errorf("panic: %v", r))
			}()
		}
		idle()
	}()
	// Go's default for SIGTERM is to exit, and PID 1 exiting panics the
	// kernel: signals are caught before anything else.
	p.handleSignals()
	p.boot()
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

// pid1 is PID 1's own state: what the boot phases found and made, and
// the machinery that outlives them (the module loader, the data
// partition's log file, the console shell, the shutdown). Main makes the
// one value.
type pid1 struct {
	initAt time.Duration // when PID 1 was first exec'd, on the log's clock
	phase  atomic.Value  // string: the boot phase running now
	slot   *slot.Slot
	box    atomic.Pointer[box.Box] // from the config phase on
	cl     Cmdline
	rec    box.ConfigRecord
	cfg    *config.Config
	sum    box.Summary

	modules kernelModules
	data    dataPartition
	entropy entropyState
	shell   consoleShell

	shutdownOnce sync.Once
	stopping     atomic.Bool
}

// phase is one step of the boot. A phase that returns false ends the
// sequence: the box failed (rescue shell), went into maintenance mode, or
// is shutting down; PID 1 keeps running either way.
type phase struct {
	name string
	run  func() bool
}

// phases is the boot sequence.
func (p *pid1) phases() []phase {
	return []phase{
		{"mounts", p.mount},
		{"modules", p.loadBaseModules},
		{"slot", p.detectSlot},
		{"data partition", p.setupDataPartition},
		{"entropy", p.seedEntropy},
		{"memory", p.limitMemory},
		{"config", p.loadConfig},
		{"API", p.startAPI},
		{"apply", p.apply},
		{"ready", p.ready},
	}
}

// boot runs the phases in order. Each but the first is announced on the
// console; the first is what makes the console's clock, and its line is
// "starting as PID 1".
func (p *pid1) boot() {
	for i, ph := range p.phases() {
		p.phase.Store(ph.name)
		if i > 0 {
			Logf("boot: %s", ph.name)
		}
		if !ph.run() {
			return
		}
	}
}

// loadBaseModules loads what the disks and NICs need before the config:
// it may be on the data partition or behind a URL.
func (p *pid1) loadBaseModules() bool {
	if _, err := p.loadModules(); err != nil {
		Logf("modules: %v", err)
	}
	return true
}

// detectSlot reads the boot loader's variables: they name the disk the
// box booted from, which is the one whose data partition counts. A
// trial boot's deadline and watchdogs run from here on, so that a hang
// in any later phase ends in a reboot too.
func (p *pid1) detectSlot() bool {
	p.slot = p.detectBootSlot()
	p.slot.WatchTrial(p.bootPosition)
	return true
}

// bootPosition is where the boot is: its phase, and the stage when the
// box is applying its config.
func (p *pid1) bootPosition() string {
	ph, _ := p.phase.Load().(string)
	if ph == "" {
		return ""
	}
	pos := "phase " + ph
	if b := p.box.Load(); b != nil {
		if st := b.ApplyingStage(); st != "" {
			pos += ", stage " + st
		}
	}
	return pos
}

// newBox makes the box supervisor over what the phases so far found.
func (p *pid1) newBox() *box.Box {
	o := box.Options{
		Clock:        clock,
		Logf:         Logf,
		ConsoleOnly:  consoleOnly,
		BootLog:      Log.apiLines,
		Uptime:       sinceBoot,
		StartCommand: StartCommand,
		SpawnGuard:   WithSpawnGuard,
		LoadModules:  p.applyModules,
		MemoryLimit:  setMemoryLimit,
		PowerOff:     func(reason string) { p.shutdown(PowerOff, reason) },
		Reboot:       func(reason string) { p.shutdown(Reboot, reason) },
		Slot:         p.slot,
		Data:         p.data.status,
	}
	if p.data.isMounted() {
		o.DataDir = DataDir
	}
	b := box.New(o)
	p.box.Store(b)
	// A shutdown that began before the box existed covers it too.
	if p.stopping.Load() {
		b.BeginShutdown()
	}
	return b
}

// loadConfig makes the box and reads the config (readConfig). A config
// that cannot be had or does not validate fails the boot; the box then
// goes into maintenance mode, or, on a trial boot of an upgrade, back to
// the previous slot.
func (p *pid1) loadConfig() bool {
	b := p.newBox()
	cl, clErr := ReadCmdline()
	p.cl = cl
	rec, cfg, err := readConfig(cl, clErr, p.lastGoodPath())
	if err != nil {
		p.failConfig(rec.Source, err)
		if p.slot.OnTrial() {
			p.slot.Fail("config", err)
			return false
		}
		p.enterMaintenance(b, rec.Source)
		return false
	}
	p.rec, p.cfg = rec, cfg
	Logf("config: %s (sha256 %s)", rec.Source, rec.SHA256[:12])
	return true
}

// startAPI serves the API, so that the box can be asked how the apply
// goes, and why it failed.
func (p *pid1) startAPI() bool {
	p.box.Load().StartAPI(p.rec, p.cfg)
	return true
}

// apply applies the config.
func (p *pid1) apply() bool {
	p.sum = box.Summary{Config: p.rec.SHA256, ConfigSource: p.rec.Source, InitMS: ms(p.initAt),
		EntropyReadyMS: ms(p.entropy.readyAt), EntropySeed: p.entropy.seed}
	err := p.box.Load().ApplyConfig(context.Background(), p.cfg, &p.sum)
	if err == nil {
		return true
	}
	if errors.Is(err, box.ErrShuttingDown) {
		return false // the apply was cancelled by the shutdown, not failed
	}
	var se *box.StageError
	if errors.As(err, &se) {
		p.fail(se.Stage, se.Err)
		p.slot.Fail("stage "+se.Stage, se.Err)
	} else {
		p.fail("apply", err)
		p.slot.Fail("apply", err)
	}
	return false
}

// ready prints the ready line, keeps the slot and offers the console
// shell.
func (p *pid1) ready() bool {
	if st, err := readRootState(); err == nil {
		p.sum.Root = st.String()
	}
	if err := p.box.Load().Ready(p.rec, p.sum); err != nil {
		return false
	}
	p.slot.MarkGood()
	p.loadDeferredModules()
	p.startConsoleShell(false)
	return true
}

// failConfig reports a config that could not be read or is invalid; an
// invalid one lists each problem on its own line.
func (p *pid1) failConfig(source string, err error) {
	var ce *configError
	if !errors.As(err, &ce) {
		p.fail("config", err)
		return
	}
	lines := errorLines(ce.err)
	noun := "errors"
	if len(lines) == 1 {
		noun = "error"
	}
	p.failLines("config", fmt.Sprintf("%s: %d %s", source, len(lines), noun), lines)
}

// fail reports that stage failed and hands the console to the rescue
// shell; PID 1 keeps running.
func (p *pid1) fail(stage string, err error) {
	lines := errorLines(err)
	if len(lines) <= 1 {
		p.failLines(stage, err.Error(), nil)
		return
	}
	p.failLines(stage, lines[0], lines[1:])
}

func (p *pid1) failLines(stage, msg string, details []string) {
	if b := p.box.Load(); b != nil {
		b.Failed(stage, append([]string{msg}, details...))
	}
	Logf("%s", failureText(stage, msg, details))
	Logf("rescue shell on the console (PID 1 keeps running)")
	p.startConsoleShell(true)
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
