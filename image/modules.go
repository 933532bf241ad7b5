package image

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// moduleDB is what depmod knows about one kernel's modules, read from the
// text files in /lib/modules/<version>.
type moduleDB struct {
	dir     string
	version string

	// byName maps a normalised module name to its path relative to dir.
	byName map[string]string
	// deps maps a module path to its dependencies' paths, in modules.dep
	// order (which lists the last to load first).
	deps map[string][]string
	// builtin holds the normalised names of modules built into the kernel.
	builtin map[string]bool
	aliases []moduleAlias
	// softdeps maps a module name to the names it wants loaded around it.
	softPre, softPost map[string][]string
}

type moduleAlias struct{ pattern, module string }

// moduleSet is the closure chosen for an image.
type moduleSet struct {
	// paths are module paths relative to the modules dir, in load order:
	// every module after its dependencies.
	paths []string
	// builtin are requested modules the kernel already contains.
	builtin []string
}

// modName turns a module path or name into the kernel's canonical name:
// the file name without .ko and compression suffix, with '-' as '_', as
// the kernel and kmod do when comparing names.
func modName(p string) string {
	b := path.Base(p)
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		b = strings.TrimSuffix(b, ext)
	}
	b = strings.TrimSuffix(b, ".ko")
	return strings.ReplaceAll(b, "-", "_")
}

func loadModuleDB(dir string) (*moduleDB, error) {
	db := &moduleDB{
		dir:      dir,
		version:  filepath.Base(filepath.Clean(dir)),
		byName:   make(map[string]string),
		deps:     make(map[string][]string),
		builtin:  make(map[string]bool),
		softPre:  make(map[string][]string),
		softPost: make(map[string][]string),
	}
	dep, err := os.ReadFile(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("kernel modules: %w (is %s a /lib/modules/<version> directory?)", err, dir)
	}
	for _, line := range lines(dep) {
		mod, rest, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%s: malformed line %q", filepath.Join(dir, "modules.dep"), line)
		}
		mod = strings.TrimSpace(mod)
		db.deps[mod] = strings.Fields(rest)
		db.byName[modName(mod)] = mod
	}
	// modules.builtin is absent on kernels without modules; that is not an
	// error, it only means nothing is built in that we know of.
	if b, err := os.ReadFile(filepath.Join(dir, "modules.builtin")); err == nil {
		for _, line := range lines(b) {
			db.builtin[modName(line)] = true
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if a, err := os.ReadFile(filepath.Join(dir, "modules.alias")); err == nil {
		for _, line := range lines(a) {
			f := strings.Fields(line)
			if len(f) == 3 && f[0] == "alias" {
				db.aliases = append(db.aliases, moduleAlias{pattern: f[1], module: modName(f[2])})
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if s, err := os.ReadFile(filepath.Join(dir, "modules.softdep")); err == nil {
		db.parseSoftdeps(s)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return db, nil
}

// parseSoftdeps reads lines of the form
// "softdep MOD pre: A B post: C"; names before any "pre:" count as pre.
func (db *moduleDB) parseSoftdeps(data []byte) {
	for _, line := range lines(data) {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "softdep" {
			continue
		}
		mod := modName(f[1])
		post := false
		for _, w := range f[2:] {
			switch w {
			case "pre:":
				post = false
			case "post:":
				post = true
			default:
				if post {
					db.softPost[mod] = append(db.softPost[mod], w)
				} else {
					db.softPre[mod] = append(db.softPre[mod], w)
				}
			}
		}
	}
}

// lines returns the non-empty, non-comment lines of a depmod text file.
func lines(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// lookupAlias returns the modules whose alias pattern matches name, as
// modprobe does when asked for something that is not a module name.
func (db *moduleDB) lookupAlias(name string) []string {
	var mods []string
	seen := make(map[string]bool)
	for _, a := range db.aliases {
		if ok, _ := path.Match(a.pattern, name); ok && !seen[a.module] {
			seen[a.module] = true
			mods = append(mods, a.module)
		}
	}
	return mods
}

// closure returns the requested modules with every hard and soft
// dependency, in an order that loads each module after what it needs.
// Built-in modules are skipped; a name that is neither a module, nor built
// in, nor an alias of a module is an error, and all such names are
// reported together.
func (db *moduleDB) closure(names []string) (*moduleSet, error) {
	set := &moduleSet{}
	done := make(map[string]bool)
	active := make(map[string]bool)
	builtinSeen := make(map[string]bool)

	var visit func(p string) error
	// soft visits optional dependencies: one that is already being
	// visited is a cycle through an optional edge, which modprobe also
	// tolerates, so it is skipped rather than reported.
	soft := func(names []string) error {
		for _, s := range names {
			for _, sp := range db.resolveOptional(s) {
				if active[sp] {
					continue
				}
				if err := visit(sp); err != nil {
					return err
				}
			}
		}
		return nil
	}
	visit = func(p string) error {
		if done[p] {
			return nil
		}
		if active[p] {
			return fmt.Errorf("kernel modules: dependency loop through %s", p)
		}
		active[p] = true
		defer delete(active, p)
		name := modName(p)
		// Soft pre-dependencies are optional: modprobe loads them when it
		// can, and so does the box, but the image should carry them, for
		// example the crc32c implementation ext4 asks for.
		if err := soft(db.softPre[name]); err != nil {
			return err
		}
		deps := db.deps[p]
		for i := len(deps) - 1; i >= 0; i-- {
			if _, ok := db.deps[deps[i]]; !ok {
				return fmt.Errorf("kernel modules: %s needs %s, which is not in modules.dep", p, deps[i])
			}
			if err := visit(deps[i]); err != nil {
				return err
			}
		}
		done[p] = true
		set.paths = append(set.paths, p)
		return soft(db.softPost[name])
	}

	var missing []string
	for _, req := range names {
		name := modName(req)
		if p, ok := db.byName[name]; ok {
			if err := visit(p); err != nil {
				return nil, err
			}
			continue
		}
		if db.builtin[name] {
			if !builtinSeen[name] {
				builtinSeen[name] = true
				set.builtin = append(set.builtin, name)
			}
			continue
		}
		ps := db.resolveOptional(req)
		if len(ps) == 0 {
			missing = append(missing, req)
			continue
		}
		for _, p := range ps {
			if err := visit(p); err != nil {
				return nil, err
			}
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("kernel modules not found in %s (neither a module file nor built in): %s",
			db.dir, strings.Join(missing, ", "))
	}
	return set, nil
}

// resolveOptional maps a soft dependency, which may be a module name or an
// alias such as crypto-crc32c, to module paths; unknown names yield none.
func (db *moduleDB) resolveOptional(name string) []string {
	if p, ok := db.byName[modName(name)]; ok {
		return []string{p}
	}
	var ps []string
	for _, m := range db.lookupAlias(name) {
		if p, ok := db.byName[m]; ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// names returns the set's module names in load order.
func (s *moduleSet) names() []string {
	out := make([]string, len(s.paths))
	for i, p := range s.paths {
		out[i] = modName(p)
	}
	return out
}

// metadataFiles are the depmod outputs copied into the image. The binary
// .bin indexes are left out: they would describe modules that are not
// there, and the text files are what the box reads.
var (
	wholeMetadata    = []string{"modules.builtin", "modules.builtin.modinfo"}
	filteredMetadata = []string{"modules.dep", "modules.alias", "modules.softdep", "modules.order", "modules.devname"}
)

// addModules puts the set's module files and the depmod metadata, trimmed
// to the modules present, under /lib/modules/<version>.
func (db *moduleDB) addModules(t *tree, set *moduleSet) error {
	base := path.Join("lib/modules", db.version)
	included := make(map[string]bool, len(set.paths))
	names := make(map[string]bool, len(set.paths))
	for _, p := range set.paths {
		included[p] = true
		names[modName(p)] = true
		origin := "kernel module " + modName(p)
		// Compressed modules (.ko.xz, .ko.zst) are copied as they are:
		// recompressing would change nothing, and the loader has to
		// handle them either way.
		if err := t.hostFile(path.Join(base, p), filepath.Join(db.dir, p), 0o644, origin); err != nil {
			return err
		}
	}
	if err := t.dir(base, 0o755, "kernel modules"); err != nil {
		return err
	}
	for _, f := range wholeMetadata {
		src := filepath.Join(db.dir, f)
		if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := t.hostFile(path.Join(base, f), src, 0o644, "kernel modules"); err != nil {
			return err
		}
	}
	for _, f := range filteredMetadata {
		data, err := os.ReadFile(filepath.Join(db.dir, f))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		keep := func(line string) bool { return false }
		switch f {
		case "modules.dep":
			keep = func(l string) bool { m, _, _ := strings.Cut(l, ":"); return included[strings.TrimSpace(m)] }
		case "modules.order":
			keep = func(l string) bool { return included[strings.TrimSpace(l)] }
		case "modules.alias":
			keep = func(l string) bool { f := strings.Fields(l); return len(f) == 3 && names[modName(f[2])] }
		case "modules.softdep", "modules.devname":
			keep = func(l string) bool {
				f := strings.Fields(l)
				if f[0] == "softdep" && len(f) > 1 {
					return names[modName(f[1])]
				}
				return names[modName(f[0])]
			}
		}
		if err := t.generated(path.Join(base, f), filterLines(data, keep), 0o644, "kernel modules"); err != nil {
			return err
		}
	}
	return nil
}

// filterLines keeps comments and the lines keep accepts, in their
// original order, so the result reads like depmod's own output.
func filterLines(data []byte, keep func(string) bool) []byte {
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		l := sc.Text()
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		if strings.HasPrefix(t, "#") || keep(t) {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// uniqueNames drops empty and repeated names (comparing them as the
// kernel does) and keeps the first spelling and the order of the rest.
func uniqueNames(names []string) []string {
	seen := make(map[string]bool)
	var out []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || seen[modName(n)] {
			continue
		}
		seen[modName(n)] = true
		out = append(out, n)
	}
	return out
}
