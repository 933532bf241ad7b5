package vmm

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/test/ci"
)

func needQemuImg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		ci.Missing(t, "qemu-img not found (Debian package qemu-utils; make deps installs it)")
	}
}

func TestPrepareDisks(t *testing.T) {
	needQemuImg(t)
	ctx := context.Background()
	dir := t.TempDir()
	q := QemuImg{}
	if err := q.Create(ctx, filepath.Join(dir, "images/base.img"), "raw", 32<<20, "", ""); err == nil {
		t.Fatal("qemu-img created a file in a missing directory")
	}
	os.Mkdir(filepath.Join(dir, "images"), 0o755)
	if err := q.Create(ctx, filepath.Join(dir, "images/base.img"), "raw", 32<<20, "", ""); err != nil {
		t.Fatal(err)
	}
	in := func(p string) string { return filepath.Join(dir, p) }
	disks := []Disk{
		{Path: in("vm1/root.qcow2"), Size: 64 << 20, Format: "qcow2"},
		{Path: in("vm1/overlay.qcow2"), Backing: in("images/base.img"), Format: "qcow2"},
		{Path: in("vm1/scratch.img"), Format: "raw", Size: 8 << 20},
	}
	warnings, err := PrepareDisks(ctx, q, disks)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("create: %v %v", warnings, err)
	}
	info := func(p string) ImageInfo {
		i, err := q.Info(ctx, filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	if i := info("vm1/root.qcow2"); i.Format != "qcow2" || i.VirtualSize != 64<<20 {
		t.Errorf("root: %+v", i)
	}
	if i := info("vm1/overlay.qcow2"); i.Format != "qcow2" || i.VirtualSize != 32<<20 || i.Backing != filepath.Join(dir, "images/base.img") {
		t.Errorf("overlay: %+v", i)
	}
	if i := info("vm1/scratch.img"); i.Format != "raw" || i.VirtualSize != 8<<20 {
		t.Errorf("scratch: %+v", i)
	}

	// Idempotent: the same config again changes nothing.
	if w, err := PrepareDisks(ctx, q, disks); err != nil || len(w) != 0 {
		t.Fatalf("second prepare: %v %v", w, err)
	}
	// Growing the config grows the disks; shrinking it only warns.
	disks[0].Size = 128 << 20
	disks[2].Size = 4 << 20
	w, err := PrepareDisks(ctx, q, disks)
	if err != nil {
		t.Fatal(err)
	}
	if i := info("vm1/root.qcow2"); i.VirtualSize != 128<<20 {
		t.Errorf("root not grown: %+v", i)
	}
	if i := info("vm1/scratch.img"); i.VirtualSize != 8<<20 {
		t.Errorf("scratch shrunk: %+v", i)
	}
	if len(w) != 1 || !strings.Contains(w[0], "not shrunk") {
		t.Errorf("warnings %v", w)
	}
	r, err := q.Check(ctx, filepath.Join(dir, "vm1/root.qcow2"))
	if err != nil || !r.Clean() {
		t.Errorf("check: %+v %v", r, err)
	}
}

func TestPrepareDisksRefuses(t *testing.T) {
	needQemuImg(t)
	ctx := context.Background()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "raw.img"), make([]byte, 1<<20), 0o644)
	for _, tc := range []struct {
		name string
		disk Disk
		want string
	}{
		{"raw file as qcow2", Disk{Path: filepath.Join(dir, "raw.img"), Format: "qcow2"}, "not a qcow2 image (set format: raw"},
		{"no size", Disk{Path: filepath.Join(dir, "new.qcow2"), Format: "qcow2"}, "give the disk a size"},
		{"missing backing", Disk{Path: filepath.Join(dir, "o.qcow2"), Backing: filepath.Join(dir, "nope.img"), Format: "qcow2"}, "backing image"},
		{"missing read-only", Disk{Path: filepath.Join(dir, "ro.qcow2"), ReadOnly: true, Size: 1 << 20, Format: "qcow2"}, "read-only disks are not created"},
	} {
		_, err := PrepareDisks(ctx, QemuImg{}, []Disk{tc.disk})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestQemuImgErrorCarriesStderr(t *testing.T) {
	needQemuImg(t)
	_, err := QemuImg{}.Info(context.Background(), filepath.Join(t.TempDir(), "absent.qcow2"))
	var ce *CommandError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "Could not open") {
		t.Errorf("error %v", err)
	}
}
