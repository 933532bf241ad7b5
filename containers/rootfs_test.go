package containers

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/test/ci"
)

// TestOverlayNodevNosuid mounts a rootfs whose layer ships a device node
// and a set-uid file: the node opens nothing, the bit is ignored.
func TestOverlayNodevNosuid(t *testing.T) {
	requireRoot(t)
	lower := t.TempDir()
	if err := Unpack(layer(t,
		tarEntry{name: "bin/", typ: tar.TypeDir},
		tarEntry{name: "bin/su", body: "#!/bin/sh\n", mode: 0o4755},
	), lower, Overlay); err != nil {
		t.Fatal(err)
	}
	// /dev/zero's numbers, as a layer unpacked by root gets them.
	if err := unix.Mknod(filepath.Join(lower, "zero"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))); err != nil {
		t.Fatal(err)
	}
	r := Rootfs{Dir: t.TempDir()}
	if err := r.Mount([]string{lower}, true); err != nil {
		ci.Missing(t, "no overlayfs here: %v", err)
	}
	defer r.Unmount()
	var st unix.Statfs_t
	if err := unix.Statfs(r.Path(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Flags&unix.ST_NODEV == 0 || st.Flags&unix.ST_NOSUID == 0 {
		t.Errorf("overlay mount flags %#x: want nodev and nosuid", st.Flags)
	}
	f, err := os.Open(filepath.Join(r.Path(), "zero"))
	if err == nil {
		f.Close()
		t.Error("a device node from a layer opened through the rootfs")
	} else if !errors.Is(err, unix.EACCES) {
		t.Errorf("opening the device node: %v, want EACCES", err)
	}
	if _, err := os.Stat(filepath.Join(r.Path(), "bin/su")); err != nil {
		t.Errorf("the image's files are not there: %v", err)
	}
}
