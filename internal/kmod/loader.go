package kmod

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/internal/safe"
)

// Loader loads modules from a DB into the running kernel and remembers
// what is loaded, so that coldplug, hotplug and requests by name share
// one view of it. It is safe for concurrent use. Each Load runs up to
// parallel inserts at once, and separate Loads do not wait for each
// other: a driver whose init sleeps (ahci waits a third of a second for
// its links under TCG, as module init waits for the probes it started)
// must not hold back unrelated modules, which the CPU could link
// meanwhile. Two Loads that want the same module both insert it; the
// kernel lets the second wait for the first and answers EEXIST.
type Loader struct {
	db         *DB
	logf       func(format string, args ...any)
	sysDevices string // the device tree coldplug scans

	mu       sync.Mutex
	loaded   map[string]bool // by the kernel, before or by us
	insert   func(path, params string) error
	parallel int
}

// The kernel makes every module's init wait for all asynchronous work
// in the system before it returns (async_synchronize_full), which
// includes the link probes of a disk controller loaded beside it: under
// TCG, bridge or nf_tables would wait a third of a second for ahci.
// The generic async_probe parameter lifts that wait, and makes the
// module's driver probe asynchronously, so it is given only to modules
// that bind no devices (no device alias in modules.alias): for them it
// changes nothing else. Drivers keep their synchronous probe, which
// coldplug counts on. One insert more than CPUs may run at once, so
// that an insert sleeping in that wait does not hold the CPUs' share.

// NewLoader returns a loader for db that starts from the modules the
// kernel has loaded now. logf receives what hotplug loads and what
// fails there, where no caller sees an error; nil discards it.
func NewLoader(db *DB, logf func(format string, args ...any)) *Loader {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Loader{db: db, logf: logf, sysDevices: "/sys/devices", loaded: Loaded(), insert: insertModule, parallel: runtime.NumCPU() + 1}
}

// Load loads the named modules and their dependencies, several at a
// time: each one starts as soon as everything it depends on is in, which
// matters under TCG where a big module (kvm) takes half a second to link.
// Modules that are built in or already loaded are fine. It returns the
// names it loaded and one error per module that is missing or failed; a
// failure only holds back the modules that depend on the failed one.
func (l *Loader) Load(names []string) ([]string, []error) {
	l.mu.Lock()
	p := l.db.plan(names, l.loaded)
	l.mu.Unlock()
	aliases, aerr := l.db.aliases()
	var errs []error
	for _, m := range p.missing {
		errs = append(errs, errors.New(m))
	}
	type result struct {
		err  error
		done chan struct{}
	}
	res := map[string]*result{}
	for _, e := range p.order {
		res[e.Name] = &result{done: make(chan struct{})}
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		loaded []string
		slots  = make(chan struct{}, max(1, l.parallel))
	)
	for _, e := range p.order {
		r := res[e.Name]
		wg.Add(1)
		safe.Go(l.logf, "module "+e.Name, func() {
			defer wg.Done()
			defer close(r.done)
			defer func() {
				if x := recover(); x != nil {
					r.err = fmt.Errorf("%s: panic: %v", e.Name, x)
				}
			}()
			for _, d := range e.Deps {
				if dr := res[d]; dr != nil {
					<-dr.done
					if dr.err != nil {
						r.err = fmt.Errorf("%s: not loaded because %s failed", e.Name, d)
						return
					}
				}
			}
			params := ""
			if aerr == nil && aliases.bindsNoDevices(e.Name) {
				params = "async_probe"
			}
			if p := moduleParams[e.Name]; p != "" {
				params = strings.TrimSpace(params + " " + p)
			}
			slots <- struct{}{}
			err := l.insert(filepath.Join(l.db.dir, e.Path), params)
			<-slots
			if err != nil && !errors.Is(err, unix.EEXIST) {
				r.err = fmt.Errorf("%s: %w", e.Name, err)
				return
			}
			if err == nil {
				mu.Lock()
				loaded = append(loaded, e.Name)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range p.order {
		if err := res[e.Name].err; err != nil {
			errs = append(errs, err)
			continue
		}
		l.loaded[e.Name] = true
	}
	return loaded, errs
}

func (l *Loader) isLoaded(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.loaded[name]
}

// LoadFor loads the drivers whose aliases match a device's modalias and
// that are not loaded yet. A DB whose aliases cannot be read matches
// nothing here; Coldplug reports that once.
func (l *Loader) LoadFor(modalias string) ([]string, []error) {
	want := l.DriversFor(modalias)
	if len(want) == 0 {
		return nil, nil
	}
	return l.Load(want)
}

// DriversFor returns the modules whose aliases match a device's
// modalias and that are not loaded yet, without loading them.
func (l *Loader) DriversFor(modalias string) []string {
	aliases, err := l.db.aliases()
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range aliases.match(modalias) {
		if !l.isLoaded(m) {
			out = append(out, m)
		}
	}
	return out
}

// Dependencies returns what Load(names) would load before the named
// modules themselves, in load order.
func (l *Loader) Dependencies(names []string) []string {
	l.mu.Lock()
	p := l.db.plan(names, l.loaded)
	l.mu.Unlock()
	want := map[string]bool{}
	for _, n := range names {
		want[Name(n)] = true
	}
	var out []string
	for _, e := range p.order {
		if !want[e.Name] {
			out = append(out, e.Name)
		}
	}
	return out
}

// moduleInitCompressedFile asks finit_module to decompress the file itself
// (Linux 6.4 and later with CONFIG_MODULE_DECOMPRESS).
const moduleInitCompressedFile = 4

// insertModule loads one module file. finit_module lets the kernel read
// (and check the signature of) the file itself; compressed modules are
// handed over the same way when the kernel can decompress them, and
// decompressed here otherwise.
func insertModule(path, params string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ext := filepath.Ext(path)
	if ext == ".ko" {
		return unix.FinitModule(int(f.Fd()), params, 0)
	}
	err = unix.FinitModule(int(f.Fd()), params, moduleInitCompressedFile)
	if err == nil || errors.Is(err, unix.EEXIST) {
		return err
	}
	var r io.Reader
	switch ext {
	case ".xz":
		r, err = xz.NewReader(f)
	case ".gz":
		r, err = gzip.NewReader(f)
	case ".zst":
		var d *zstd.Decoder
		if d, err = zstd.NewReader(f); err == nil {
			defer d.Close()
			r = d
		}
	default:
		return fmt.Errorf("unknown module file type %q", ext)
	}
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		return err
	}
	return unix.InitModule(buf.Bytes(), params)
}

// SetModprobeHelper points the kernel's on-demand module loading (a
// filesystem type at mount, a crypto algorithm, a network family) at
// busybox's modprobe, which reads the same modules.dep and modules.alias,
// when the image has no /sbin/modprobe, the kernel's default.
func SetModprobeHelper() {
	if _, err := os.Stat("/sbin/modprobe"); err == nil {
		return
	}
	for _, p := range []string{"/bin/modprobe", "/usr/sbin/modprobe", "/usr/bin/modprobe"} {
		if _, err := os.Stat(p); err == nil {
			os.WriteFile("/proc/sys/kernel/modprobe", []byte(p), 0)
			return
		}
	}
}
