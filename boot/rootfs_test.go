package boot

import (
	"strings"
	"testing"
)

// mountinfo as the appliance's kernel shows it: on the initramfs (the
// namespace root is its own parent), after the bind mount moved onto /
// (the same superblock 0:2, but a mount whose parent is hidden outside
// the chroot), and a disk root.
const (
	mountinfoInitramfs = "1 1 0:2 / / rw - rootfs rootfs rw,size=482400k,nr_inodes=120600\n" +
		"20 1 0:20 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
	mountinfoBind = "21 1 0:2 / / rw - rootfs rootfs rw,size=482400k,nr_inodes=120600\n" +
		"22 21 0:20 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
	mountinfoDisk = "27 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n" +
		"22 27 0:21 / /proc rw,relatime - proc proc rw\n"
	// The kernel's own threads keep the initramfs as their root: they
	// see both mounts on "/", the bind one last.
	mountinfoKthread = "1 1 0:2 / / rw - rootfs rootfs rw\n" +
		"21 1 0:2 / / rw - rootfs rootfs rw\n"
)

func TestRootState(t *testing.T) {
	for _, tc := range []struct {
		name, mountinfo string
		initramfs       bool
		summary         string
	}{
		{"initramfs", mountinfoInitramfs, true, "initramfs"},
		{"bind", mountinfoBind, false, "initramfs-bind"},
		{"disk", mountinfoDisk, false, "ext4"},
		{"kthread", mountinfoKthread, false, "initramfs-bind"},
	} {
		st, err := parseRootState(strings.NewReader(tc.mountinfo))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if st.initramfs() != tc.initramfs || st.String() != tc.summary {
			t.Errorf("%s: initramfs %v, summary %q; want %v, %q", tc.name, st.initramfs(), st, tc.initramfs, tc.summary)
		}
	}
	if _, err := parseRootState(strings.NewReader("20 1 0:20 / /proc rw - proc proc rw\n")); err == nil {
		t.Error("mountinfo without a mount on /: no error")
	}
}
