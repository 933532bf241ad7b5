package kmod

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// DB is what depmod says about one kernel's modules, read from the text
// files in its /lib/modules/<release> directory: the module files and
// their dependencies (modules.dep), the modules compiled into the kernel
// (modules.builtin), and, read when first needed, the device and feature
// aliases (modules.alias) and the optional dependencies (modules.softdep).
// A DB does not change once opened; it is safe for concurrent use.
type DB struct {
	dir     string
	mods    map[string]*Module // by canonical name
	builtin map[string]bool

	aliasOnce sync.Once
	aliasDB   *aliasDB
	aliasErr  error

	softOnce          sync.Once
	softPre, softPost map[string][]string
	softErr           error
}

// Module is one module file of a DB.
type Module struct {
	Name string   // canonical name: kvm_intel
	Path string   // relative to the DB's directory, as in modules.dep
	Deps []string // canonical names of everything it needs, as modules.dep lists them
	// depPaths are Deps as modules.dep spells them, to name a
	// dependency whose file is missing.
	depPaths []string
}

// Name turns a module file name or a name someone wrote into the name
// the kernel uses: no directory, no .ko or compression suffix, and '_'
// where files and people often write '-' (kvm-intel.ko is the module
// kvm_intel).
func Name(s string) string {
	s = path.Base(filepath.ToSlash(s))
	for _, ext := range []string{".xz", ".gz", ".zst"} {
		s = strings.TrimSuffix(s, ext)
	}
	s = strings.TrimSuffix(s, ".ko")
	return strings.ReplaceAll(s, "-", "_")
}

// RunningDir is the module directory of the running kernel.
func RunningDir() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "/lib/modules"
	}
	return filepath.Join("/lib/modules", unix.ByteSliceToString(u.Release[:]))
}

// Loaded returns the modules the running kernel has loaded now.
func Loaded() map[string]bool {
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

// Open reads modules.dep and modules.builtin from dir. A directory
// without them is a valid, empty DB (a kernel with everything built in):
// requests for modules then fail by name.
func Open(dir string) (*DB, error) {
	db := &DB{dir: dir, mods: map[string]*Module{}, builtin: map[string]bool{}}
	if f, err := os.Open(filepath.Join(dir, "modules.dep")); err == nil {
		db.mods, err = parseModulesDep(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s/modules.dep: %w", dir, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if f, err := os.Open(filepath.Join(dir, "modules.builtin")); err == nil {
		db.builtin, err = parseModulesBuiltin(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s/modules.builtin: %w", dir, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return db, nil
}

// Dir is the directory the DB was read from.
func (db *DB) Dir() string { return db.dir }

// Release is the kernel release the DB is for, the name of its
// directory.
func (db *DB) Release() string { return filepath.Base(filepath.Clean(db.dir)) }

// Module returns the module file called name (in any spelling), or nil.
func (db *DB) Module(name string) *Module { return db.mods[Name(name)] }

// Builtin reports whether the kernel has name compiled in.
func (db *DB) Builtin(name string) bool { return db.builtin[Name(name)] }

// parseModulesDep parses lines "path.ko: dep.ko dep.ko ...". depmod lists
// every module's full dependency closure on its line, the last to load
// first.
func parseModulesDep(r io.Reader) (map[string]*Module, error) {
	mods := map[string]*Module{}
	sc := newScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, deps, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: no ':' in %q", n, line)
		}
		m := &Module{Name: Name(p), Path: strings.TrimSpace(p)}
		for _, d := range strings.Fields(deps) {
			m.Deps = append(m.Deps, Name(d))
			m.depPaths = append(m.depPaths, d)
		}
		mods[m.Name] = m
	}
	return mods, sc.Err()
}

// parseModulesBuiltin parses the list of module paths built into the
// kernel.
func parseModulesBuiltin(r io.Reader) (map[string]bool, error) {
	b := map[string]bool{}
	sc := newScanner(r)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			b[Name(line)] = true
		}
	}
	return b, sc.Err()
}

// softdeps returns the optional dependencies of modules.softdep, read on
// first use: "softdep MOD pre: A B post: C", where names before any
// "pre:" count as pre.
func (db *DB) softdeps() (pre, post map[string][]string, err error) {
	db.softOnce.Do(func() {
		db.softPre, db.softPost = map[string][]string{}, map[string][]string{}
		f, err := os.Open(filepath.Join(db.dir, "modules.softdep"))
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err != nil {
			db.softErr = err
			return
		}
		defer f.Close()
		sc := newScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 3 || fs[0] != "softdep" {
				continue
			}
			mod, isPost := Name(fs[1]), false
			for _, w := range fs[2:] {
				switch w {
				case "pre:":
					isPost = false
				case "post:":
					isPost = true
				default:
					if isPost {
						db.softPost[mod] = append(db.softPost[mod], w)
					} else {
						db.softPre[mod] = append(db.softPre[mod], w)
					}
				}
			}
		}
		if err := sc.Err(); err != nil {
			db.softErr = fmt.Errorf("%s/modules.softdep: %w", db.dir, err)
		}
	})
	return db.softPre, db.softPost, db.softErr
}

// aliases returns the aliases of the DB's own modules, read from
// modules.alias on first use: Debian's file lists every module of the
// kernel, an image carries a few.
func (db *DB) aliases() (*aliasDB, error) {
	db.aliasOnce.Do(func() {
		f, err := os.Open(filepath.Join(db.dir, "modules.alias"))
		if errors.Is(err, os.ErrNotExist) {
			db.aliasDB = &aliasDB{byBus: map[string][]modAlias{}, drivers: map[string]bool{}}
			return
		}
		if err != nil {
			db.aliasErr = err
			return
		}
		defer f.Close()
		db.aliasDB, err = parseModulesAlias(f, func(m string) bool { return db.mods[m] != nil })
		if err != nil {
			db.aliasErr = fmt.Errorf("modules.alias: %w", err)
		}
	})
	return db.aliasDB, db.aliasErr
}

// newScanner reads depmod's text files, whose lines (a module with a long
// dependency closure, a driver's many aliases) can exceed bufio's default.
func newScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	return sc
}
