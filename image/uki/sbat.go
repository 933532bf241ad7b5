package uki

import (
	"bytes"
	"fmt"
	"strings"
)

// SBATLine is one component's SBAT entry: name, generation, vendor,
// package, version and URL, as CSV without quoting (commas in a field
// become spaces).
func SBATLine(component string, generation int, vendor, pkg, version, url string) []byte {
	clean := func(s string) string { return strings.NewReplacer(",", " ", "\n", " ", "\r", " ").Replace(s) }
	return []byte(fmt.Sprintf("%s,%d,%s,%s,%s,%s\n", clean(component), generation, clean(vendor), clean(pkg), clean(version), clean(url)))
}

// mergeSBAT puts the stub's SBAT lines before the image's own, without
// the stub section's NUL padding and without repeating a line.
func mergeSBAT(stub, own []byte) []byte {
	var out []byte
	seen := map[string]bool{}
	for _, b := range [][]byte{stub, own} {
		for _, line := range bytes.Split(bytes.TrimRight(b, "\x00"), []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 || seen[string(line)] {
				continue
			}
			seen[string(line)] = true
			out = append(append(out, line...), '\n')
		}
	}
	return out
}
