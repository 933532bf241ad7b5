package depmod

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// module is what depmod needs to know of one .ko file.
type module struct {
	path    string // relative to the modules directory
	name    string // kernel spelling: dashes as underscores
	needs   []string
	exports []string
	aliases []string
	softdep []string
}

// Name is a module's name from its path, as the kernel spells it.
func Name(path string) string {
	b := filepath.Base(path)
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		b = strings.TrimSuffix(b, ext)
	}
	return strings.ReplaceAll(strings.TrimSuffix(b, ".ko"), "-", "_")
}

// Write reads every module under dir and writes dir/modules.dep,
// modules.alias and modules.softdep.
func Write(dir string) error {
	files, err := Indexes(dir)
	if err != nil {
		return err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Indexes returns the files Write writes, by name.
func Indexes(dir string) (map[string][]byte, error) {
	mods, err := scan(dir)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		"modules.dep":     depFile(mods, readOrder(dir)),
		"modules.alias":   aliasFile(mods),
		"modules.softdep": softdepFile(mods),
	}, nil
}

func scan(dir string) ([]*module, error) {
	var mods []*module
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !isModule(p) {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		m, err := readModule(p)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		m.path = filepath.ToSlash(rel)
		m.name = Name(rel)
		mods = append(mods, m)
		return nil
	})
	sort.Slice(mods, func(i, j int) bool { return mods[i].path < mods[j].path })
	return mods, err
}

func isModule(p string) bool {
	for _, s := range []string{".ko", ".ko.xz", ".ko.zst"} {
		if strings.HasSuffix(p, s) {
			return true
		}
	}
	return false
}

func readModule(p string) (*module, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.HasSuffix(p, ".xz"):
		r, err := xz.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		if data, err = io.ReadAll(r); err != nil {
			return nil, err
		}
	case strings.HasSuffix(p, ".zst"):
		r, err := zstd.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		data, err = io.ReadAll(r)
		r.Close()
		if err != nil {
			return nil, err
		}
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := &module{}
	syms, err := f.Symbols()
	if err != nil && err != elf.ErrNoSymbols {
		return nil, err
	}
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF && s.Name != "" {
			m.needs = append(m.needs, s.Name)
		}
	}
	if s := f.Section("__ksymtab_strings"); s != nil {
		b, err := s.Data()
		if err != nil {
			return nil, err
		}
		for _, e := range bytes.Split(b, []byte{0}) {
			if len(e) > 0 {
				m.exports = append(m.exports, string(e))
			}
		}
	}
	if s := f.Section(".modinfo"); s != nil {
		b, err := s.Data()
		if err != nil {
			return nil, err
		}
		for _, e := range bytes.Split(b, []byte{0}) {
			k, v, ok := strings.Cut(string(e), "=")
			switch {
			case !ok:
			case k == "alias":
				m.aliases = append(m.aliases, v)
			case k == "softdep":
				m.softdep = append(m.softdep, v)
			}
		}
	}
	return m, nil
}

// readOrder is modules.order (shipped in the package): depmod lists
// modules in that order, the rest after it.
func readOrder(dir string) map[string]int {
	order := map[string]int{}
	f, err := os.Open(filepath.Join(dir, "modules.order"))
	if err != nil {
		return order
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for i := 0; sc.Scan(); i++ {
		l := strings.TrimSpace(sc.Text())
		if _, dup := order[l]; !dup && l != "" {
			order[l] = i
		}
	}
	return order
}

// depFile writes each module's whole dependency closure, ordered so that
// a module comes before everything it needs: loaders read the list from
// the end.
func depFile(mods []*module, order map[string]int) []byte {
	exporter := map[string]*module{}
	for _, m := range mods {
		for _, s := range m.exports {
			if _, taken := exporter[s]; !taken {
				exporter[s] = m
			}
		}
	}
	direct := map[*module][]*module{}
	for _, m := range mods {
		seen := map[*module]bool{}
		for _, s := range m.needs {
			if d := exporter[s]; d != nil && d != m && !seen[d] {
				seen[d] = true
				direct[m] = append(direct[m], d)
			}
		}
		sort.Slice(direct[m], func(i, j int) bool { return direct[m][i].path < direct[m][j].path })
	}
	lines := append([]*module(nil), mods...)
	sort.SliceStable(lines, func(i, j int) bool {
		oi, iok := order[lines[i].path]
		oj, jok := order[lines[j].path]
		switch {
		case iok && jok:
			return oi < oj
		case iok != jok:
			return iok
		}
		return lines[i].path < lines[j].path
	})
	var b bytes.Buffer
	for _, m := range lines {
		// Post-order gives dependencies before dependents; reversed,
		// every module precedes what it needs.
		var post []*module
		state := map[*module]int{}
		var visit func(*module)
		visit = func(x *module) {
			if state[x] != 0 {
				return // done, or a cycle, which the kernel refuses anyway
			}
			state[x] = 1
			for _, d := range direct[x] {
				visit(d)
			}
			state[x] = 2
			post = append(post, x)
		}
		visit(m)
		b.WriteString(m.path + ":")
		for i := len(post) - 2; i >= 0; i-- { // the last is m itself
			b.WriteString(" " + post[i].path)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func aliasFile(mods []*module) []byte {
	var b bytes.Buffer
	b.WriteString("# Aliases extracted from modules themselves.\n")
	for _, m := range mods {
		for _, a := range m.aliases {
			fmt.Fprintf(&b, "alias %s %s\n", a, m.name)
		}
	}
	return b.Bytes()
}

func softdepFile(mods []*module) []byte {
	var b bytes.Buffer
	b.WriteString("# Soft dependencies extracted from modules themselves.\n")
	for _, m := range mods {
		for _, s := range m.softdep {
			fmt.Fprintf(&b, "softdep %s %s\n", m.name, s)
		}
	}
	return b.Bytes()
}
