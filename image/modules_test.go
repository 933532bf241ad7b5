package image

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/boot"
)

const fixtureModules = "testdata/modules/6.1.0-test"

func TestModName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/net/bridge/bridge.ko":        "bridge",
		"kernel/fs/nls/nls_iso8859-1.ko":     "nls_iso8859_1",
		"nls-iso8859-1":                      "nls_iso8859_1",
		"kernel/fs/isofs/isofs.ko.xz":        "isofs",
		"kernel/drivers/x/virtio-rng.ko.zst": "virtio_rng",
		"kvm-intel":                          "kvm_intel",
	} {
		if got := modName(in); got != want {
			t.Errorf("modName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClosure(t *testing.T) {
	db, err := loadModuleDB(fixtureModules)
	if err != nil {
		t.Fatal(err)
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
			set, err := db.closure(tc.req)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("closure(%v) error = %v, want one containing %q", tc.req, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := set.names(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("closure(%v) = %v, want %v", tc.req, got, tc.want)
			}
			if !reflect.DeepEqual(set.builtin, tc.builtin) {
				t.Errorf("builtin = %v, want %v", set.builtin, tc.builtin)
			}
		})
	}
}

func TestModuleMetadataFiltered(t *testing.T) {
	db, err := loadModuleDB(fixtureModules)
	if err != nil {
		t.Fatal(err)
	}
	set, err := db.closure([]string{"bridge", "ext4"})
	if err != nil {
		t.Fatal(err)
	}
	tr := newTree()
	if err := db.addModules(tr, set); err != nil {
		t.Fatal(err)
	}
	base := "lib/modules/6.1.0-test/"
	content := func(name string) string {
		t.Helper()
		e, ok := tr.entries[base+name]
		if !ok {
			t.Fatalf("%s not in the image", base+name)
		}
		if e.src != "" {
			b, err := os.ReadFile(e.src)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		return string(e.data)
	}
	wantDep := strings.Join([]string{
		"kernel/net/llc/llc.ko:",
		"kernel/net/802/stp.ko: kernel/net/llc/llc.ko",
		"kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko",
		"kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko",
		"kernel/fs/jbd2/jbd2.ko:",
		"kernel/fs/mbcache.ko:",
		"kernel/lib/crc16.ko:",
		"kernel/crypto/crc32c_generic.ko:",
	}, "\n") + "\n"
	if got := content("modules.dep"); got != wantDep {
		t.Errorf("modules.dep =\n%s\nwant\n%s", got, wantDep)
	}
	alias := content("modules.alias")
	for _, want := range []string{"# Aliases", "alias crypto-crc32c crc32c_generic", "alias fs-ext4 ext4"} {
		if !strings.Contains(alias, want) {
			t.Errorf("modules.alias lacks %q:\n%s", want, alias)
		}
	}
	for _, unwanted := range []string{"r8169", "unused", "isofs"} {
		if strings.Contains(alias, unwanted) {
			t.Errorf("modules.alias names %s, which is not in the image:\n%s", unwanted, alias)
		}
	}
	if got := content("modules.softdep"); strings.Contains(got, "r8169") || !strings.Contains(got, "softdep ext4 pre: crypto-crc32c") {
		t.Errorf("modules.softdep not filtered:\n%s", got)
	}
	if got := content("modules.devname"); strings.Contains(got, "unused") || strings.Contains(got, "fuse") {
		t.Errorf("modules.devname not filtered:\n%s", got)
	}
	if got := content("modules.order"); strings.Contains(got, "r8169") || !strings.Contains(got, "kernel/net/bridge/bridge.ko\n") {
		t.Errorf("modules.order not filtered:\n%s", got)
	}
	// modules.builtin stays whole: the box treats any builtin as present.
	builtin, _ := os.ReadFile(filepath.Join(fixtureModules, "modules.builtin"))
	if got := content("modules.builtin"); got != string(builtin) {
		t.Errorf("modules.builtin = %q, want the original %q", got, builtin)
	}
	content("modules.builtin.modinfo")
	if _, ok := tr.entries[base+"modules.dep.bin"]; ok {
		t.Error("modules.dep.bin copied; the binary indexes would describe modules that are not there")
	}
	// Every line of the image's modules.dep names files that are in it.
	for _, l := range lines([]byte(content("modules.dep"))) {
		m, deps, _ := strings.Cut(l, ":")
		for _, p := range append(strings.Fields(deps), m) {
			if _, ok := tr.entries[base+p]; !ok {
				t.Errorf("modules.dep names %s, which is not in the image", p)
			}
		}
	}
}

// debianModules returns the installed Debian kernel's modules directory,
// skipping the test when there is none, except in CI, where the kernel is
// installed by make deps and its absence is a failure.
func debianModules(t *testing.T) (kernel, modules string) {
	t.Helper()
	dirs, _ := filepath.Glob("/lib/modules/6.1.0-*-amd64")
	for _, d := range dirs {
		k := "/boot/vmlinuz-" + filepath.Base(d)
		if _, err := os.Stat(filepath.Join(d, "modules.dep")); err == nil {
			if _, err := os.Stat(k); err == nil {
				return k, d
			}
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Debian kernel in /boot and /lib/modules/6.1.0-*-amd64: make deps installs linux-image-amd64")
	}
	t.Skip("no Debian kernel in /boot and /lib/modules/6.1.0-*-amd64 (apt-get install linux-image-amd64)")
	return "", ""
}

func TestDebianModuleClosure(t *testing.T) {
	_, dir := debianModules(t)
	db, err := loadModuleDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := uniqueNames(append(append([]string{}, boot.BaseModules...), boot.HardwareModules...))
	set, err := db.closure(want)
	if err != nil {
		t.Fatal(err)
	}
	pos := make(map[string]int)
	for i, n := range set.names() {
		pos[n] = i
	}
	// Each module comes after everything modules.dep says it needs.
	for _, p := range set.paths {
		for _, d := range db.deps[p] {
			if pos[modName(d)] >= pos[modName(p)] {
				t.Errorf("%s is loaded before its dependency %s", modName(p), modName(d))
			}
		}
	}
	for _, m := range []string{"bridge", "stp", "llc", "8021q", "ext4", "jbd2", "virtio_net", "kvm"} {
		if _, ok := pos[m]; !ok {
			t.Errorf("%s missing from the closure", m)
		}
	}
	// ext4 asks for crc32c softly; without it mounting ext4 fails.
	if _, ok := pos["crc32c_generic"]; !ok {
		t.Error("ext4's soft dependency crc32c_generic is not in the closure")
	}
	t.Logf("%d modules for %d requested, built in: %v", len(set.paths), len(want), set.builtin)
}
