package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/test/ci"
)

const fixtureModules = "testdata/modules/6.1.0-test"

func TestModuleMetadataFiltered(t *testing.T) {
	db, err := openModules(fixtureModules)
	if err != nil {
		t.Fatal(err)
	}
	set, err := db.Select([]string{"bridge", "ext4"})
	if err != nil {
		t.Fatal(err)
	}
	tr := newTree()
	if err := addModules(tr, db, set); err != nil {
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
	for _, l := range strings.Split(strings.TrimSpace(content("modules.dep")), "\n") {
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
	ci.Missing(t, "no Debian kernel in /boot and /lib/modules/6.1.0-*-amd64 (apt-get install linux-image-amd64, part of make deps)")
	return "", ""
}
