package depmod

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/test/ci"
)

// debianModules is a Debian kernel's modules directory with the indexes
// Debian's depmod made (make deps installs linux-image-amd64).
func debianModules(t *testing.T) string {
	t.Helper()
	dirs, _ := filepath.Glob("/lib/modules/*-amd64")
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "modules.dep")); err == nil {
			return d
		}
	}
	ci.Missing(t, "no Debian kernel modules under /lib/modules/*-amd64 (linux-image-amd64, make deps installs it)")
	return ""
}

func parseDep(b []byte) map[string][]string {
	out := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m, deps, ok := strings.Cut(sc.Text(), ":")
		if ok {
			out[m] = strings.Fields(deps)
		}
	}
	return out
}

func lines(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// TestMatchesDebianDepmod compares the indexes made from the modules with
// the ones Debian's depmod made for the same kernel: the same modules,
// each with the same dependency closure, in an order that loads every
// module after what it needs, and the same aliases and soft
// dependencies.
func TestMatchesDebianDepmod(t *testing.T) {
	dir := debianModules(t)
	got, err := Indexes(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantDep, err := os.ReadFile(filepath.Join(dir, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	want, have := parseDep(wantDep), parseDep(got["modules.dep"])
	if len(have) != len(want) || len(want) < 1000 {
		t.Fatalf("%d modules in modules.dep, Debian's has %d", len(have), len(want))
	}
	bad := 0
	for m, deps := range want {
		g := append([]string(nil), have[m]...)
		w := append([]string(nil), deps...)
		sort.Strings(g)
		sort.Strings(w)
		if strings.Join(g, " ") != strings.Join(w, " ") && bad < 5 {
			t.Errorf("%s: depends on %v, Debian's depmod says %v", m, have[m], deps)
			bad++
		}
	}
	// Order: a module's line lists what depends on others before those.
	for m, deps := range have {
		pos := map[string]int{}
		for i, d := range deps {
			pos[d] = i
		}
		for i, d := range deps {
			for _, dd := range have[d] {
				if j, ok := pos[dd]; ok && j < i {
					t.Errorf("%s: %s comes after its dependency %s", m, d, dd)
				}
			}
		}
	}
	for _, f := range []string{"modules.alias", "modules.softdep"} {
		w, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if g, w := lines(got[f]), lines(w); strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Errorf("%s: %d lines, Debian's has %d", f, len(g), len(w))
		}
	}
}
