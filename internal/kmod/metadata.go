package kmod

import (
	"bytes"
	"strings"
)

// An image carries depmod's text files for the modules it holds, which
// are what the box and busybox's modprobe read. The binary .bin indexes
// are left out: they would describe modules that are not there.

// WholeMetadata are the depmod files an image carries as they are: a
// module built into the kernel is present whatever the image holds.
func WholeMetadata() []string {
	return []string{"modules.builtin", "modules.builtin.modinfo"}
}

// TrimmedMetadata are the depmod files an image carries trimmed to its
// modules with Set.Trim.
func TrimmedMetadata() []string {
	return []string{"modules.dep", "modules.alias", "modules.softdep", "modules.order", "modules.devname"}
}

// Trim returns the depmod file called name (one of TrimmedMetadata) with
// only the lines about the set's modules, and its comments, in their
// original order, so the result reads like depmod's own output.
func (s *Set) Trim(name string, data []byte) []byte {
	paths := make(map[string]bool, len(s.Modules))
	names := make(map[string]bool, len(s.Modules))
	for _, m := range s.Modules {
		paths[m.Path] = true
		names[m.Name] = true
	}
	keep := func(string) bool { return false }
	switch name {
	case "modules.dep":
		keep = func(l string) bool { m, _, _ := strings.Cut(l, ":"); return paths[strings.TrimSpace(m)] }
	case "modules.order":
		keep = func(l string) bool { return paths[l] }
	case "modules.alias":
		keep = func(l string) bool { f := strings.Fields(l); return len(f) == 3 && names[Name(f[2])] }
	case "modules.softdep", "modules.devname":
		keep = func(l string) bool {
			f := strings.Fields(l)
			if f[0] == "softdep" && len(f) > 1 {
				return names[Name(f[1])]
			}
			return names[Name(f[0])]
		}
	}
	var b bytes.Buffer
	sc := newScanner(bytes.NewReader(data))
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
