package boot

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"
)

// moduleDB is what the image says about its kernel modules: the files and
// their dependencies (modules.dep), the modules compiled into the kernel
// (modules.builtin) and the device aliases (modules.alias, read lazily by
// coldplug).
type moduleDB struct {
	dir     string
	mods    map[string]*moduleEntry // by canonical name
	builtin map[string]bool
}

type moduleEntry struct {
	name string
	path string   // relative to dir, as in modules.dep
	deps []string // canonical names
}

// modName turns a module file name or user-supplied name into the name the
// kernel uses: no directory or .ko suffix, and '_' where files and users
// often write '-' (kvm-intel.ko is the module kvm_intel).
func modName(s string) string {
	s = filepath.Base(s)
	for _, ext := range []string{".xz", ".gz", ".zst"} {
		s = strings.TrimSuffix(s, ext)
	}
	s = strings.TrimSuffix(s, ".ko")
	return strings.ReplaceAll(s, "-", "_")
}

// moduleDir is the directory of the running kernel's modules.
func moduleDir() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "/lib/modules"
	}
	return filepath.Join("/lib/modules", unix.ByteSliceToString(u.Release[:]))
}

// openModuleDB reads modules.dep and modules.builtin from dir. An image
// with no modules at all is valid (a kernel with everything built in);
// requests for modules then fail by name.
func openModuleDB(dir string) (*moduleDB, error) {
	db := &moduleDB{dir: dir, mods: map[string]*moduleEntry{}, builtin: map[string]bool{}}
	if f, err := os.Open(filepath.Join(dir, "modules.dep")); err == nil {
		db.mods, err = parseModulesDep(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s/modules.dep: %w", dir, err)
		}
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	if f, err := os.Open(filepath.Join(dir, "modules.builtin")); err == nil {
		db.builtin, err = parseModulesBuiltin(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s/modules.builtin: %w", dir, err)
		}
	}
	return db, nil
}

// parseModulesDep parses lines "path.ko: dep.ko dep.ko ...". depmod lists
// every module's full dependency closure on its line.
func parseModulesDep(r io.Reader) (map[string]*moduleEntry, error) {
	mods := map[string]*moduleEntry{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		path, deps, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: no ':' in %q", n, line)
		}
		e := &moduleEntry{name: modName(path), path: strings.TrimSpace(path)}
		for _, d := range strings.Fields(deps) {
			e.deps = append(e.deps, modName(d))
		}
		mods[e.name] = e
	}
	return mods, sc.Err()
}

// parseModulesBuiltin parses the list of module paths built into the
// kernel.
func parseModulesBuiltin(r io.Reader) (map[string]bool, error) {
	b := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			b[modName(line)] = true
		}
	}
	return b, sc.Err()
}

// loadPlan is the result of resolving requested module names.
type loadPlan struct {
	order   []*moduleEntry // dependencies before dependents
	builtin []string       // requested but built into the kernel
	missing []string       // requested but not loadable, with the reason
}

// plan orders the modules named and their dependencies so that each comes
// after everything it needs, skipping the ones in skip (already loaded).
// A name that cannot be resolved is reported in missing without keeping
// the others from loading.
func (db *moduleDB) plan(names []string, skip map[string]bool) loadPlan {
	const (
		visiting = 1
		done     = 2
		bad      = 3
	)
	var p loadPlan
	state := map[string]int{}
	why := map[string]error{}
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		switch state[name] {
		case done:
			return nil
		case bad:
			return why[name]
		case visiting:
			return fmt.Errorf("dependency cycle %s -> %s", strings.Join(chain, " -> "), name)
		}
		if skip[name] || db.builtin[name] {
			state[name] = done
			return nil
		}
		e, ok := db.mods[name]
		if !ok {
			state[name], why[name] = bad, missingError(name)
			return why[name]
		}
		state[name] = visiting
		for _, d := range e.deps {
			if err := visit(d, append(chain, name)); err != nil {
				state[name], why[name] = bad, err
				return err
			}
		}
		state[name] = done
		p.order = append(p.order, e)
		return nil
	}
	for _, raw := range names {
		name := modName(raw)
		if state[name] == 0 && !skip[name] && db.builtin[name] {
			p.builtin = append(p.builtin, name)
		}
		if err := visit(name, nil); err != nil {
			var m missingError
			if errors.As(err, &m) && string(m) == name {
				p.missing = append(p.missing, fmt.Sprintf("%s: not in the image", name))
			} else if errors.As(err, &m) {
				p.missing = append(p.missing, fmt.Sprintf("%s: needs %s, which is not in the image", name, string(m)))
			} else {
				p.missing = append(p.missing, fmt.Sprintf("%s: %v", name, err))
			}
		}
	}
	return p
}

// missingError names a module that is neither a file in the image nor
// built into the kernel.
type missingError string

func (m missingError) Error() string { return string(m) + " is not in the image" }

// loadedModules returns the modules the kernel has loaded now.
func loadedModules() map[string]bool {
	set := map[string]bool{}
	b, err := os.ReadFile("/proc/modules")
	if err != nil {
		return set
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			set[f[0]] = true
		}
	}
	return set
}

// moduleLoader loads modules from a moduleDB and remembers what it loaded.
type moduleLoader struct {
	db       *moduleDB
	mu       sync.Mutex
	loaded   map[string]bool // by the kernel, before or by us
	insert   func(path string) error
	parallel int
}

func newModuleLoader(db *moduleDB) *moduleLoader {
	return &moduleLoader{db: db, loaded: loadedModules(), insert: insertModule, parallel: runtime.NumCPU()}
}

// Load loads the named modules and their dependencies, several at a
// time: each one starts as soon as everything it depends on is in, which
// matters under TCG where a big module (kvm) takes half a second to link.
// Modules that are built in or already loaded are fine. It returns the
// names it loaded and one error per module that is missing or failed; a
// failure only holds back the modules that depend on the failed one.
func (l *moduleLoader) Load(names []string) ([]string, []error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.db.plan(names, l.loaded)
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
		res[e.name] = &result{done: make(chan struct{})}
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		loaded []string
		slots  = make(chan struct{}, max(1, l.parallel))
	)
	for _, e := range p.order {
		r := res[e.name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(r.done)
			defer func() {
				if x := recover(); x != nil {
					r.err = fmt.Errorf("%s: panic: %v", e.name, x)
				}
			}()
			for _, d := range e.deps {
				if dr := res[d]; dr != nil {
					<-dr.done
					if dr.err != nil {
						r.err = fmt.Errorf("%s: not loaded because %s failed", e.name, d)
						return
					}
				}
			}
			slots <- struct{}{}
			err := l.insert(filepath.Join(l.db.dir, e.path))
			<-slots
			if err != nil && !errors.Is(err, unix.EEXIST) {
				r.err = fmt.Errorf("%s: %w", e.name, err)
				return
			}
			if err == nil {
				mu.Lock()
				loaded = append(loaded, e.name)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, e := range p.order {
		if err := res[e.name].err; err != nil {
			errs = append(errs, err)
			continue
		}
		l.loaded[e.name] = true
	}
	return loaded, errs
}

// Has reports whether name is a module file in the image.
func (l *moduleLoader) Has(name string) bool {
	_, ok := l.db.mods[modName(name)]
	return ok
}

// moduleInitCompressedFile asks finit_module to decompress the file itself
// (Linux 6.4 and later with CONFIG_MODULE_DECOMPRESS).
const moduleInitCompressedFile = 4

// insertModule loads one module file. finit_module lets the kernel read
// (and check the signature of) the file itself; compressed modules are
// handed over the same way when the kernel can decompress them, and
// decompressed here otherwise.
func insertModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ext := filepath.Ext(path)
	if ext == ".ko" {
		return unix.FinitModule(int(f.Fd()), "", 0)
	}
	err = unix.FinitModule(int(f.Fd()), "", moduleInitCompressedFile)
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
	return unix.InitModule(buf.Bytes(), "")
}

// loadModules loads the base modules, the extra ones the config names and
// the drivers coldplug finds for the devices present. A requested module
// that is missing or fails is an error; a coldplug driver that fails is
// only a warning, because a device the box does not use must not keep it
// from booting.
func loadModules(extra []string) (count int, err error) {
	start := time.Now()
	setModprobeHelper()
	db, err := openModuleDB(moduleDir())
	if err != nil {
		return 0, err
	}
	l := newModuleLoader(db)
	startHotplug()
	want := append(append([]string(nil), BaseModules...), extra...)
	loaded, reqErrs := l.Load(want)
	hw, hwWarn := coldplug(l, db)
	// button and evdev are base modules: the power button exists now.
	watchPowerButtons()
	for _, w := range hwWarn {
		Logf("modules: warning: coldplug: %v", w)
	}
	all := append(loaded, hw...)
	sort.Strings(all)
	Logf("modules: loaded %d in %d ms: %s", len(all), time.Since(start).Milliseconds(), strings.Join(all, " "))
	if len(hw) > 0 {
		sort.Strings(hw)
		Logf("modules: coldplug: %s", strings.Join(hw, " "))
	}
	return len(all), errors.Join(reqErrs...)
}

// setModprobeHelper points the kernel's on-demand module loading (a
// filesystem type at mount, a crypto algorithm, a network family) at
// busybox's modprobe, which reads the same modules.dep and modules.alias,
// when the image has no /sbin/modprobe, the kernel's default.
func setModprobeHelper() {
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

// loadNamedModules loads modules a feature needs on demand (a filesystem
// before mounting it), with their dependencies.
func loadNamedModules(names ...string) ([]string, error) {
	db, err := openModuleDB(moduleDir())
	if err != nil {
		return nil, err
	}
	loaded, errs := newModuleLoader(db).Load(names)
	return loaded, errors.Join(errs...)
}
