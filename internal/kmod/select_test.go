package kmod

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/test/ci"
)

// selectFixture is a modules directory with soft dependencies, aliases,
// a compressed module and a dependency whose file is missing.
const selectFixture = "testdata/6.1.0-test"

func TestNameSpellings(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/net/bridge/bridge.ko":        "bridge",
		"kernel/fs/nls/nls_iso8859-1.ko":     "nls_iso8859_1",
		"nls-iso8859-1":                      "nls_iso8859_1",
		"kernel/fs/isofs/isofs.ko.xz":        "isofs",
		"kernel/drivers/x/virtio-rng.ko.zst": "virtio_rng",
		"kvm-intel":                          "kvm_intel",
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSelect(t *testing.T) {
	db, err := Open(selectFixture)
	if err != nil {
		t.Fatal(err)
	}
	if db.Release() != "6.1.0-test" {
		t.Errorf("release %q", db.Release())
	}
	for _, tc := range []struct {
		name    string
		req     []string
		want    []string // module names in load order
		builtin []string
		err     string // substring of the expected error
	}{
		{name: "chain", req: []string{"bridge"}, want: []string{"llc", "stp", "bridge"}},
		{name: "deps before dependents", req: []string{"8021q"},
			want: []string{"llc", "stp", "mrp", "garp", "8021q"}},
		{name: "shared deps once", req: []string{"bridge", "8021q"},
			want: []string{"llc", "stp", "bridge", "mrp", "garp", "8021q"}},
		{name: "soft pre-dependency through an alias", req: []string{"ext4"},
			want: []string{"crc32c_generic", "jbd2", "mbcache", "crc16", "ext4"}},
		{name: "soft pre-dependency by name", req: []string{"r8169"},
			want: []string{"libphy", "realtek", "r8169"}},
		{name: "unresolvable soft dependency is optional", req: []string{"unused"}, want: []string{"unused"}},
		{name: "dash and underscore are one name", req: []string{"nls-iso8859-1", "nls_iso8859_1"},
			want: []string{"nls_iso8859_1"}},
		{name: "compressed module", req: []string{"isofs"}, want: []string{"isofs"}},
		{name: "alias request", req: []string{"fs-ext4"},
			want: []string{"crc32c_generic", "jbd2", "mbcache", "crc16", "ext4"}},
		{name: "builtin skipped", req: []string{"af_packet", "evdev", "bridge"},
			want: []string{"llc", "stp", "bridge"}, builtin: []string{"af_packet", "evdev"}},
		{name: "missing modules all named", req: []string{"bridge", "nosuch", "alsomissing"},
			err: "nosuch, alsomissing"},
		{name: "dependency absent from modules.dep", req: []string{"broken"}, err: "kernel/drivers/gone.ko"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, err := db.Select(tc.req)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Select(%v) error = %v, want one containing %q", tc.req, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := set.Names(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Select(%v) = %v, want %v", tc.req, got, tc.want)
			}
			if !reflect.DeepEqual(set.Builtin, tc.builtin) {
				t.Errorf("builtin = %v, want %v", set.Builtin, tc.builtin)
			}
		})
	}
}

// debianModules returns the installed Debian kernel's modules directory,
// skipping the test when there is none, except in CI, where the kernel is
// installed by make deps and its absence is a failure.
func debianModules(t *testing.T) string {
	t.Helper()
	dirs, _ := filepath.Glob("/lib/modules/6.1.0-*-amd64")
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "modules.dep")); err == nil {
			return d
		}
	}
	ci.Missing(t, "no Debian kernel modules in /lib/modules/6.1.0-*-amd64 (apt-get install linux-image-amd64, part of make deps)")
	return ""
}

func TestDebianModuleSelect(t *testing.T) {
	db, err := Open(debianModules(t))
	if err != nil {
		t.Fatal(err)
	}
	want := append(BaseModules(), HardwareModules()...)
	set, err := db.Select(want)
	if err != nil {
		t.Fatal(err)
	}
	pos := make(map[string]int)
	for i, n := range set.Names() {
		pos[n] = i
	}
	// Each module comes after everything modules.dep says it needs.
	for _, m := range set.Modules {
		for _, d := range m.Deps {
			if pos[d] >= pos[m.Name] {
				t.Errorf("%s is loaded before its dependency %s", m.Name, d)
			}
		}
	}
	for _, m := range []string{"bridge", "stp", "llc", "8021q", "ext4", "jbd2", "virtio_net", "kvm"} {
		if _, ok := pos[m]; !ok {
			t.Errorf("%s missing from the selection", m)
		}
	}
	// ext4 asks for crc32c softly; without it mounting ext4 fails.
	if _, ok := pos["crc32c_generic"]; !ok {
		t.Error("ext4's soft dependency crc32c_generic is not in the selection")
	}
	t.Logf("%d modules for %d requested, built in: %v", len(set.Modules), len(want), set.Builtin)
}
