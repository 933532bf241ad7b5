package boot

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/test/ci"
)

// TestMover moves a tree the way PID 1 moves the initramfs, within one
// filesystem (the test's temporary directory) into a directory inside it.
func TestMover(t *testing.T) {
	src := t.TempDir()
	dst := filepath.Join(src, ".newroot")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "bin"), 0o755))
	must(os.MkdirAll(filepath.Join(src, "etc/nucbox"), 0o750))
	must(os.WriteFile(filepath.Join(src, "bin/busybox"), []byte("#!busybox"), 0o755))
	must(os.Link(filepath.Join(src, "bin/busybox"), filepath.Join(src, "bin/sh.hard")))
	must(os.Link(filepath.Join(src, "bin/busybox"), filepath.Join(src, "bin/sh.hard2")))
	must(os.Symlink("busybox", filepath.Join(src, "bin/sh")))
	must(os.WriteFile(filepath.Join(src, "etc/nucbox/config.yaml"), []byte("hostname: x\n"), 0o600))
	must(os.WriteFile(filepath.Join(src, "init"), make([]byte, 3<<20), 0o755))
	must(os.Chmod(filepath.Join(src, "init"), os.ModeSetuid|0o755))
	must(unix.Mkfifo(filepath.Join(src, "fifo"), 0o600))
	must(os.Chmod(filepath.Join(src, "fifo"), 0o620))
	must(os.Mkdir(filepath.Join(src, "ro"), 0o755))
	must(os.WriteFile(filepath.Join(src, "ro/file"), []byte("x"), 0o444))
	root := os.Geteuid() == 0
	if root {
		// The copy must still be filled; only root (PID 1) can also
		// empty the read-only source.
		must(os.Chmod(filepath.Join(src, "ro"), 0o555))
	}
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	must(os.Chtimes(filepath.Join(src, "etc/nucbox/config.yaml"), old, old))
	must(os.Mkdir(dst, 0o755))

	m, err := newMover(src, dst)
	must(err)
	m.moveDir(src, dst)
	for _, e := range m.errs {
		t.Error(e)
	}

	// The source is empty but for the destination.
	left, _ := os.ReadDir(src)
	if len(left) != 1 || left[0].Name() != ".newroot" {
		t.Errorf("left in the source: %v", left)
	}
	check := func(rel string, mode os.FileMode) os.FileInfo {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(dst, rel))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", rel, fi.Mode(), mode)
		}
		return fi
	}
	check("bin", os.ModeDir|0o755)
	check("etc/nucbox", os.ModeDir|0o750)
	if root {
		check("ro", os.ModeDir|0o555)
	}
	check("ro/file", 0o444)
	check("init", os.ModeSetuid|0o755)
	check("fifo", os.ModeNamedPipe|0o620)
	check("bin/sh", os.ModeSymlink|0o777)
	if l, _ := os.Readlink(filepath.Join(dst, "bin/sh")); l != "busybox" {
		t.Errorf("symlink to %q", l)
	}
	cfg := check("etc/nucbox/config.yaml", 0o600)
	if !cfg.ModTime().Equal(old) {
		t.Errorf("mtime %v, want %v", cfg.ModTime(), old)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "etc/nucbox/config.yaml")); string(b) != "hostname: x\n" {
		t.Errorf("content %q", b)
	}
	if fi := check("init", os.ModeSetuid|0o755); fi.Size() != 3<<20 {
		t.Errorf("init size %d", fi.Size())
	}
	a, b, c := check("bin/busybox", 0o755), check("bin/sh.hard", 0o755), check("bin/sh.hard2", 0o755)
	if !os.SameFile(a, b) || !os.SameFile(a, c) {
		t.Error("hard link became a copy")
	}
	if m.bytes != 3<<20+int64(len("#!busybox")+len("hostname: x\n")+len("x")) {
		t.Errorf("copied %d bytes", m.bytes)
	}
	os.Chmod(filepath.Join(dst, "ro"), 0o755) // let t.TempDir clean up
}

// requireRoot skips a test that needs root, unless it runs in CI, where
// a skipped root test would hide a regression.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	ci.Missing(t, "needs root (CI runs it as root)")
}

// TestMoverDeviceNodes checks what only root can create: the device
// nodes an initramfs carries (/dev/console).
func TestMoverDeviceNodes(t *testing.T) {
	requireRoot(t)
	src := t.TempDir()
	dst := filepath.Join(src, ".newroot")
	if err := os.Mkdir(filepath.Join(src, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(src, "dev/console"), unix.S_IFCHR|0o600, int(unix.Mkdev(5, 1))); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := newMover(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	m.moveDir(src, dst)
	for _, e := range m.errs {
		t.Error(e)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dst, "dev/console"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode != unix.S_IFCHR|0o600 || unix.Major(st.Rdev) != 5 || unix.Minor(st.Rdev) != 1 {
		t.Errorf("console: mode %o rdev %d:%d", st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
}
