package flash

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestMounts: the mount table is read as the kernel writes it, with the
// octal escapes it uses for spaces and backslashes decoded, optional tags
// skipped, and a device mounted twice listed twice.
func TestMounts(t *testing.T) {
	mounts, err := fakeSystem("mountinfo-escapes").Mounts()
	if err != nil {
		t.Fatal(err)
	}
	type mount struct{ dev, point, fstype, source string }
	var got []mount
	for _, m := range mounts {
		got = append(got, mount{fmt.Sprintf("%d:%d", m.Major, m.Minor), m.Mountpoint, m.FSType, m.Source})
	}
	want := []mount{
		{"0:20", "/", "tmpfs", "tmpfs"},
		{"0:21", "/proc", "proc", "proc"},
		{"0:23", "/dev/pts", "devpts", "devpts"},
		{"8:1", "/data disk", "ext4", "/dev/sda1"},
		{"7:1", "/var/lib/nucbox", "ext4", "/dev/loop0p2"},
		{"7:1", "/mnt/with space", "ext4", "/dev/loop0p2"},
		{"8:17", "/media/usb", "vfat", "/dev/disk/by-label/MY STICK"},
		{"8:33", `/media/a b\c`, "vfat", "/dev/sdc1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if _, err := fakeSystem("no-such-mountinfo").Mounts(); err == nil {
		t.Error("no error for a missing mount table")
	}
}

// TestGarbledMountTable: a table the kernel would not write is not half
// read; the device is refused rather than judged on part of it.
func TestGarbledMountTable(t *testing.T) {
	s := fakeSystem("mountinfo-garbled")
	if _, err := s.Mounts(); err == nil {
		t.Error("a garbled mount table read without error")
	}
	d, err := s.Inspect("sdb")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(d, 1<<30); err == nil || !strings.Contains(err.Error(), "cannot tell what is mounted") {
		t.Errorf("Check = %v", err)
	}
}
