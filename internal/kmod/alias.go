package kmod

import (
	"io"
	"strings"
)

// Device drivers announce the devices they drive as aliases: glob
// patterns over the modalias strings the kernel publishes for devices
// (pci:v00008086d000010D3...), and features the kernel asks for by name
// (fs-ext4, crypto-crc32c). modules.alias maps each pattern to its module.

// modAlias is one "alias PATTERN MODULE" line.
type modAlias struct {
	pattern, module string
}

// aliasDB indexes aliases by the bus prefix of their pattern ("pci",
// "usb", "virtio") so that a device is only matched against its own bus;
// patterns with a wildcard before the first ':' ("acpi*:PNP0C0C:*") and
// names without one (fs-ext4) are tried for every string.
type aliasDB struct {
	byBus map[string][]modAlias
	wild  []modAlias
	// drivers are the modules with a device alias: they bind devices.
	// Without a modules.alias (fromFile false) nothing is known.
	drivers  map[string]bool
	fromFile bool
}

// notDevices are alias prefixes before a ':' that name no bus: a device
// node (devname:net/tun) or an exported symbol.
var notDevices = map[string]bool{"devname": true, "symbol": true}

// parseModulesAlias reads modules.alias, keeping the aliases of modules
// for which keep is true (those the image carries: Debian's file lists
// every module of the kernel).
func parseModulesAlias(r io.Reader, keep func(module string) bool) (*aliasDB, error) {
	a := &aliasDB{byBus: map[string][]modAlias{}, drivers: map[string]bool{}, fromFile: true}
	sc := newScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "alias" {
			continue
		}
		m := modAlias{pattern: f[1], module: Name(f[2])}
		if keep != nil && !keep(m.module) {
			continue
		}
		bus, _, ok := strings.Cut(m.pattern, ":")
		if ok && !notDevices[bus] {
			a.drivers[m.module] = true
		}
		if !ok || strings.ContainsAny(bus, `*?[\`) {
			a.wild = append(a.wild, m)
			continue
		}
		a.byBus[bus] = append(a.byBus[bus], m)
	}
	return a, sc.Err()
}

// bindsNoDevices says that module has no device alias, as far as
// modules.alias tells.
func (a *aliasDB) bindsNoDevices(module string) bool { return a.fromFile && !a.drivers[module] }

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
