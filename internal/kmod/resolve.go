package kmod

import (
	"errors"
	"fmt"
	"strings"
)

// MissingError names a module that is neither a file of the DB nor
// built into the kernel.
type MissingError struct {
	Name string // canonical name
	// By and Path are set when the module is a dependency: the file of
	// the module that needs it, and the missing file as modules.dep
	// names it.
	By, Path string
}

func (e *MissingError) Error() string { return e.Name + " is not in the image" }

// CycleError is a loop of hard dependencies, which depmod never writes
// but a hand-edited modules.dep can hold.
type CycleError struct{ Chain []string }

func (e *CycleError) Error() string {
	return "dependency cycle " + strings.Join(e.Chain, " -> ")
}

// resolver orders modules so that each comes after everything it needs:
// a depth-first walk of modules.dep that remembers what it has seen, so a
// shared dependency is placed once and a failure is found once.
type resolver struct {
	db   *DB
	skip map[string]bool // already loaded: treated as present
	// soft follows modules.softdep: optional modules that modprobe loads
	// around a module when it can (ext4 asks for crc32c that way).
	soft              bool
	softPre, softPost map[string][]string

	state map[string]int
	why   map[string]error
	order []*Module
}

const (
	visiting = 1
	done     = 2
	bad      = 3
)

func (db *DB) newResolver(skip map[string]bool, soft bool) (*resolver, error) {
	r := &resolver{db: db, skip: skip, soft: soft, state: map[string]int{}, why: map[string]error{}}
	if soft {
		var err error
		if r.softPre, r.softPost, err = db.softdeps(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// visit places name and its dependencies; by is the module that needs
// it, nil for a request.
func (r *resolver) visit(name string, chain []string, by *Module) error {
	switch r.state[name] {
	case done:
		return nil
	case bad:
		return r.why[name]
	case visiting:
		return &CycleError{Chain: append(append([]string(nil), chain...), name)}
	}
	if r.skip[name] || r.db.builtin[name] {
		r.state[name] = done
		return nil
	}
	m := r.db.mods[name]
	if m == nil {
		err := &MissingError{Name: name}
		if by != nil {
			err.By, err.Path = by.Path, by.depPath(name)
		}
		r.state[name], r.why[name] = bad, err
		return err
	}
	fail := func(err error) error {
		r.state[name], r.why[name] = bad, err
		return err
	}
	r.state[name] = visiting
	chain = append(chain, name)
	if err := r.visitSoft(r.softPre[name], chain); err != nil {
		return fail(err)
	}
	// modules.dep lists the last to load first.
	for i := len(m.Deps) - 1; i >= 0; i-- {
		if err := r.visit(m.Deps[i], chain, m); err != nil {
			return fail(err)
		}
	}
	r.state[name] = done
	r.order = append(r.order, m)
	return r.visitSoft(r.softPost[name], chain)
}

// request places a requested module with what it needs, or, when that
// cannot be had, nothing at all: the dependencies it placed on the way
// are taken back, since nothing else asked for them.
func (r *resolver) request(name string) error {
	mark := len(r.order)
	err := r.visit(name, nil, nil)
	if err != nil {
		for _, m := range r.order[mark:] {
			delete(r.state, m.Name)
		}
		r.order = r.order[:mark]
	}
	return err
}

// visitSoft places optional dependencies, which may be names or aliases
// (crypto-crc32c). One that cannot be had is skipped, as modprobe skips
// it, and so is one already being placed: a loop through an optional
// edge is not an error either.
func (r *resolver) visitSoft(names []string, chain []string) error {
	for _, s := range names {
		ms, err := r.db.resolveName(s)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if r.state[m] == visiting {
				continue
			}
			if err := r.visit(m, chain, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolveName maps a module name or an alias to module names of the DB;
// an unknown name gives none.
func (db *DB) resolveName(name string) ([]string, error) {
	if db.mods[Name(name)] != nil {
		return []string{Name(name)}, nil
	}
	a, err := db.aliases()
	if err != nil {
		return nil, err
	}
	return a.match(name), nil
}

func (m *Module) depPath(dep string) string {
	for i, d := range m.Deps {
		if d == dep {
			return m.depPaths[i]
		}
	}
	return dep
}

// loadPlan is what loading a list of modules takes.
type loadPlan struct {
	order   []*Module // dependencies before dependents
	builtin []string  // requested but built into the kernel
	missing []string  // requested but not loadable, with the reason
}

// plan orders the modules named and their dependencies so that each comes
// after everything it needs, skipping the ones in skip (already loaded).
// A name that cannot be resolved is reported in missing without keeping
// the others from loading.
func (db *DB) plan(names []string, skip map[string]bool) loadPlan {
	r, _ := db.newResolver(skip, false) // without soft dependencies it cannot fail
	var p loadPlan
	for _, raw := range names {
		name := Name(raw)
		if r.state[name] == 0 && !skip[name] && db.builtin[name] {
			p.builtin = append(p.builtin, name)
		}
		err := r.request(name)
		var m *MissingError
		switch {
		case err == nil:
		case errors.As(err, &m) && m.Name == name:
			p.missing = append(p.missing, fmt.Sprintf("%s: not in the image", name))
		case errors.As(err, &m):
			p.missing = append(p.missing, fmt.Sprintf("%s: needs %s, which is not in the image", name, m.Name))
		default:
			p.missing = append(p.missing, fmt.Sprintf("%s: %v", name, err))
		}
	}
	p.order = r.order
	return p
}

// Set is a choice of modules with everything they need, for an image.
type Set struct {
	// Modules are in load order: every module after its dependencies.
	Modules []*Module
	// Builtin are requested modules the kernel already contains.
	Builtin []string
}

// Names returns the set's module names in load order.
func (s *Set) Names() []string {
	out := make([]string, len(s.Modules))
	for i, m := range s.Modules {
		out[i] = m.Name
	}
	return out
}

// Select returns the named modules with every hard and soft dependency.
// A name may be an alias (fs-ext4), as for modprobe. A name that is
// neither a module, nor built in, nor an alias of a module is an error,
// and so is a dependency modules.dep names without listing its file;
// every such problem is reported at once.
func (db *DB) Select(names []string) (*Set, error) {
	r, err := db.newResolver(nil, true)
	if err != nil {
		return nil, err
	}
	set := &Set{}
	builtinSeen := map[string]bool{}
	var missing []string
	var errs []error
	seenErr := map[string]bool{}
	fail := func(err error) {
		var m *MissingError
		if errors.As(err, &m) && m.By != "" {
			err = fmt.Errorf("kernel modules: %s needs %s, which is not in modules.dep", m.By, m.Path)
		} else if errors.As(err, new(*CycleError)) {
			err = fmt.Errorf("kernel modules: %w", err)
		}
		if !seenErr[err.Error()] {
			seenErr[err.Error()] = true
			errs = append(errs, err)
		}
	}
	for _, req := range names {
		name := Name(req)
		if db.builtin[name] {
			if !builtinSeen[name] {
				builtinSeen[name] = true
				set.Builtin = append(set.Builtin, name)
			}
			continue
		}
		ms, err := db.resolveName(req)
		if err != nil {
			return nil, err
		}
		if len(ms) == 0 {
			missing = append(missing, req)
			continue
		}
		for _, m := range ms {
			if err := r.request(m); err != nil {
				fail(err)
			}
		}
	}
	if len(missing) > 0 {
		errs = append([]error{fmt.Errorf("kernel modules not found in %s (neither a module file nor built in): %s",
			db.dir, strings.Join(missing, ", "))}, errs...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	set.Modules = r.order
	return set, nil
}
