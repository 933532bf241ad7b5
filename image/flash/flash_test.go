package flash

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fakeSystem(mountinfo string) System {
	return System{Sys: "testdata/sys", Dev: "testdata/dev", MountInfo: filepath.Join("testdata", mountinfo)}
}

const GiB = 1 << 30

func TestCheck(t *testing.T) {
	regular := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(regular, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		device    string
		mountinfo string
		image     int64
		// want are substrings of the error; none means the device may be
		// written.
		want []string
	}{
		{name: "idle stick", device: "sdb", mountinfo: "mountinfo-laptop", image: GiB},
		{name: "stick as a path", device: "testdata/dev/../dev/sdb", mountinfo: "mountinfo-laptop", image: GiB, want: []string{"no such file"}},
		{name: "stick partition mounted", device: "sdb", mountinfo: "mountinfo-stick-mounted", image: GiB,
			want: []string{"sdb1 is mounted at /media/user/my stick: unmount it first"}},
		{name: "system disk", device: "sda", mountinfo: "mountinfo-laptop", image: GiB,
			want: []string{"holds the running system's root file system (sda2 is mounted at /)", "holds the running system's /boot/efi (sda1"}},
		{name: "root on btrfs, found by source", device: "sdb", mountinfo: "mountinfo-btrfs-root", image: GiB,
			want: []string{"root file system (sdb2 is mounted at /)"}},
		{name: "boot", device: "sdb", mountinfo: "mountinfo-boot", image: GiB, want: []string{"running system's /boot (sdb1"}},
		{name: "partition", device: "sda1", mountinfo: "mountinfo-laptop", image: GiB, want: []string{"sda1 is a partition of sda; give the whole device (testdata/dev/sda)"}},
		{name: "too small", device: "sdc", mountinfo: "mountinfo-laptop", image: GiB, want: []string{"the image is 1.0 GiB (1073741824 bytes) but testdata/dev/sdc holds only 256.0 MiB"}},
		{name: "exactly the size", device: "sdc", mountinfo: "mountinfo-laptop", image: 256 << 20},
		{name: "write-protected", device: "sdd", mountinfo: "mountinfo-laptop", image: GiB, want: []string{"write-protected"}},
		{name: "device mapper", device: "sde", mountinfo: "mountinfo-laptop", image: GiB, want: []string{"sde1 is in use by dm-0"}},
		{name: "no medium", device: "sdf", mountinfo: "mountinfo-laptop", image: GiB, want: []string{"no medium"}},
		{name: "no such device", device: "sdz", mountinfo: "mountinfo-laptop", image: GiB, want: []string{"sdz: no such block device"}},
		{name: "regular file", device: regular, mountinfo: "mountinfo-laptop", image: 1, want: []string{"is not a block device"}},
		{name: "unreadable mount table", device: "sdb", mountinfo: "no-such-mountinfo", image: GiB, want: []string{"cannot tell what is mounted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakeSystem(tt.mountinfo)
			d, err := s.Inspect(tt.device)
			if err == nil {
				err = s.Check(d, tt.image)
			}
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("allowed; want refusal with %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
		})
	}
}

func TestRefusedIsTyped(t *testing.T) {
	s := fakeSystem("mountinfo-laptop")
	d, err := s.Inspect("sda")
	if err != nil {
		t.Fatal(err)
	}
	err = s.Check(d, GiB)
	if !IsRefused(err) {
		t.Fatalf("%v is not a RefusedError", err)
	}
	var r *RefusedError
	errors.As(err, &r)
	if len(r.Reasons) != 2 || !strings.Contains(r.Reasons[0], "root") {
		t.Errorf("reasons %q: want root first, then /boot/efi", r.Reasons)
	}
}

func TestInspect(t *testing.T) {
	d, err := fakeSystem("mountinfo-laptop").Inspect("sdb")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Describe(), "testdata/dev/sdb, SanDisk Cruzer Blade, 14.9 GiB, removable"; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
	if len(d.Partitions) != 2 {
		t.Fatalf("partitions %+v", d.Partitions)
	}
	p := d.Partitions[0]
	if p.Name != "sdb1" || p.Size != 256<<20 || p.Label != "NUCBOX" || p.PartLab != "nucbox-esp" || p.Dev != "8:17" {
		t.Errorf("sdb1 = %+v", p)
	}
	if d.Partitions[1].PartLab != "nucbox-data" || d.Partitions[1].Label != "" {
		t.Errorf("sdb2 = %+v", d.Partitions[1])
	}
}

func TestUnescape(t *testing.T) {
	if got := unescapeUdev(`my\x20stick\x2fx`); got != "my stick/x" {
		t.Errorf("unescapeUdev = %q", got)
	}
}
