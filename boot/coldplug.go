package boot

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Coldplug does at boot what udev does for devices that appeared before
// it ran: every device in sysfs publishes a modalias string, modules.alias
// maps glob patterns over those strings to driver modules, and loading a
// match binds the driver. A driver can reveal new devices (virtio_pci
// creates the virtio devices that virtio_net drives), so the scan repeats
// until a round loads nothing new.

const coldplugRounds = 4

// modAlias is one "alias PATTERN MODULE" line.
type modAlias struct {
	pattern, module string
}

// aliasDB indexes aliases by the bus prefix of their pattern ("pci",
// "usb", "virtio") so that a device is only matched against its own bus;
// patterns with a wildcard before the first ':' ("acpi*:PNP0C0C:*") are
// tried for every device.
type aliasDB struct {
	byBus map[string][]modAlias
	wild  []modAlias
}

// parseModulesAlias reads modules.alias, keeping the aliases of modules
// for which keep is true (those the image carries: Debian's file lists
// every module of the kernel).
func parseModulesAlias(r io.Reader, keep func(module string) bool) (*aliasDB, error) {
	a := &aliasDB{byBus: map[string][]modAlias{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "alias" {
			continue
		}
		m := modAlias{pattern: f[1], module: modName(f[2])}
		if keep != nil && !keep(m.module) {
			continue
		}
		bus, _, ok := strings.Cut(m.pattern, ":")
		if !ok || strings.ContainsAny(bus, `*?[\`) {
			a.wild = append(a.wild, m)
			continue
		}
		a.byBus[bus] = append(a.byBus[bus], m)
	}
	return a, sc.Err()
}

// match returns the modules whose aliases match a device's modalias, in
// file order, without duplicates.
func (a *aliasDB) match(modalias string) []string {
	bus, _, _ := strings.Cut(modalias, ":")
	var out []string
	seen := map[string]bool{}
	for _, list := range [][]modAlias{a.byBus[bus], a.wild} {
		for _, m := range list {
			if !seen[m.module] && globMatch(m.pattern, modalias) {
				seen[m.module] = true
				out = append(out, m.module)
			}
		}
	}
	return out
}

// globMatch is fnmatch(3) without flags, as modprobe uses it for aliases:
// '*' and '?' match any character including '/', '[...]' is a set with
// ranges and '!' or '^' negation, and '\' quotes the next character.
func globMatch(pattern, s string) bool {
	// Iterative with one backtrack point for the last '*': linear enough
	// for modalias strings and free of recursion blow-ups.
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				starP, starI = p, i
				p++
				continue
			case '?':
				p++
				i++
				continue
			case '[':
				if ok, width, valid := matchClass(pattern[p:], s[i]); valid {
					if ok {
						p += width
						i++
						continue
					}
				} else if s[i] == '[' { // unterminated class: a literal '['
					p++
					i++
					continue
				}
			case '\\':
				if p+1 < len(pattern) && pattern[p+1] == s[i] {
					p += 2
					i++
					continue
				}
			default:
				if c == s[i] {
					p++
					i++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starI++
		p, i = starP+1, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchClass matches c against the class at the start of pat ("[...]"),
// returning whether it matched, the class's width in pat, and whether the
// class was well formed.
func matchClass(pat string, c byte) (matched bool, width int, valid bool) {
	i := 1
	negate := false
	if i < len(pat) && (pat[i] == '!' || pat[i] == '^') {
		negate = true
		i++
	}
	first := true
	for i < len(pat) {
		if pat[i] == ']' && !first {
			return matched != negate, i + 1, true
		}
		first = false
		lo := pat[i]
		if lo == '\\' && i+1 < len(pat) {
			i++
			lo = pat[i]
		}
		hi := lo
		if i+2 < len(pat) && pat[i+1] == '-' && pat[i+2] != ']' {
			hi = pat[i+2]
			i += 2
		}
		if lo <= c && c <= hi {
			matched = true
		}
		i++
	}
	return false, 0, false
}

// readModaliases returns the distinct modalias strings of the devices
// under root (/sys/devices). Symlinks are not followed, so every device is
// seen once, at its real place in the tree.
func readModaliases(root string) []string {
	seen := map[string]bool{}
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // devices come and go under a walk; skip, do not stop
		}
		if d.Name() != "modalias" || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			seen[s] = true
		}
		return nil
	})
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// coldplug loads the image's drivers for the devices present and returns
// the modules it loaded and a warning for each driver that failed.
func coldplug(l *moduleLoader, db *moduleDB) (loaded []string, warnings []error) {
	f, err := os.Open(filepath.Join(db.dir, "modules.alias"))
	if err != nil {
		if !os.IsNotExist(err) {
			warnings = append(warnings, err)
		}
		return nil, warnings
	}
	aliases, err := parseModulesAlias(f, func(m string) bool { return db.mods[m] != nil })
	f.Close()
	if err != nil {
		return nil, append(warnings, fmt.Errorf("modules.alias: %w", err))
	}
	matched := map[string]bool{} // modalias strings already handled
	tried := map[string]bool{}
	for round := 0; round < coldplugRounds; round++ {
		var want []string
		for _, ma := range readModaliases("/sys/devices") {
			if matched[ma] {
				continue
			}
			matched[ma] = true
			for _, m := range aliases.match(ma) {
				if !tried[m] && !l.loaded[m] {
					tried[m] = true
					want = append(want, m)
				}
			}
		}
		if len(want) == 0 {
			break
		}
		sort.Strings(want)
		done, errs := l.Load(want)
		loaded = append(loaded, done...)
		warnings = append(warnings, errs...)
	}
	return loaded, warnings
}
