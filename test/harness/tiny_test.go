package harness

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"
)

// Late modules are packed with the dependencies the early ones do not
// already bring, and loaded by their own script, not by /init.
func TestTinyLateModules(t *testing.T) {
	dir := t.TempDir()
	bb := filepath.Join(dir, "busybox")
	os.WriteFile(bb, []byte("not really busybox"), 0o755)
	defer func(old string) { Busybox = old }(Busybox)
	Busybox = bb
	mods := filepath.Join(dir, "mods")
	os.MkdirAll(filepath.Join(mods, "kernel"), 0o755)
	os.WriteFile(filepath.Join(mods, "modules.dep"), []byte("kernel/a.ko: kernel/b.ko\nkernel/b.ko:\nkernel/c.ko: kernel/b.ko kernel/d.ko\nkernel/d.ko:\n"), 0o644)
	for _, m := range []string{"a", "b", "c", "d"} {
		os.WriteFile(filepath.Join(mods, "kernel", m+".ko"), []byte(m), 0o644)
	}
	p := filepath.Join(dir, "tiny.cpio.gz")
	if err := writeTiny(p, Tiny{Script: "echo hello", Modules: []string{"a"}, LateModules: []string{"c"}}, Kernel{Modules: mods}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(p)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) (string, cpio.Record) {
		for _, r := range recs {
			if r.Name == name {
				b, _ := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
				return string(b), r
			}
		}
		t.Fatalf("no %s in the initramfs", name)
		return "", cpio.Record{}
	}
	init, _ := read("init")
	if strings.Contains(init, "c.ko") || strings.Contains(init, "d.ko") || !strings.Contains(init, "insmod /lib/modules/a.ko") {
		t.Errorf("/init loads the wrong modules:\n%s", init)
	}
	load, r := read(strings.TrimPrefix(LoadLateModules, "/"))
	if load != "#!/bin/busybox sh\ninsmod /lib/modules/d.ko\ninsmod /lib/modules/c.ko\n" || r.Mode&0o111 == 0 {
		t.Errorf("%s (mode %o):\n%s\nwant d then c, and b (loaded early) not again", LoadLateModules, r.Mode, load)
	}
	for _, m := range []string{"a", "b", "c", "d"} {
		if ko, _ := read("lib/modules/" + m + ".ko"); ko != m {
			t.Errorf("%s.ko holds %q", m, ko)
		}
	}
}
