package mountinfo

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Mount
	}{
		{
			name: "initramfs",
			in: `22 1 0:20 / / rw,relatime - tmpfs tmpfs rw,mode=755,inode64
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
25 22 0:5 / /dev rw,nosuid,relatime - devtmpfs devtmpfs rw,size=481896k,mode=755
26 25 0:23 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666
31 22 8:1 / /data\040disk rw,relatime shared:1 master:2 - ext4 /dev/sda1 rw
30 24 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate
bogus line
`,
			want: []Mount{
				{"0:20", "/", "tmpfs", "tmpfs"},
				{"0:21", "/proc", "proc", "proc"},
				{"0:5", "/dev", "devtmpfs", "devtmpfs"},
				{"0:23", "/dev/pts", "devpts", "devpts"},
				{"8:1", "/data disk", "ext4", "/dev/sda1"},
				{"0:27", "/sys/fs/cgroup", "cgroup2", "cgroup2"},
			},
		},
		{
			name: "data partition mounted twice",
			in: "22 1 0:21 / /proc rw - proc proc rw\n" +
				"40 22 7:1 / /var/lib/nucbox rw,noatime - ext4 /dev/loop0p2 rw\n" +
				"41 22 7:1 / /mnt/with\\040space rw - ext4 /dev/loop0p2 rw\n",
			want: []Mount{
				{"0:21", "/proc", "proc", "proc"},
				{"7:1", "/var/lib/nucbox", "ext4", "/dev/loop0p2"},
				{"7:1", "/mnt/with space", "ext4", "/dev/loop0p2"},
			},
		},
		{
			name: "escaped source",
			in:   `50 22 8:17 / /media/usb rw - vfat /dev/disk/by-label/MY\040STICK rw` + "\n",
			want: []Mount{{"8:17", "/media/usb", "vfat", "/dev/disk/by-label/MY STICK"}},
		},
		{
			name: "no separator or too short",
			in:   "22 1 0:21 / /proc rw proc proc rw\n22 1 0:21 / /proc rw -\n\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestReadFileMissing(t *testing.T) {
	if _, err := ReadFile("testdata/no-such-mountinfo"); err == nil {
		t.Error("no error for a missing file")
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`: "/a b", `/tab\011x`: "/tab\tx", `/back\134slash`: `/back\slash`,
		`/plain`: "/plain", `/short\04`: `/short\04`, `/bad\09x`: `/bad\09x`,
		`/big\777`: `/big\777`, `\040`: " ",
		`/media/a\040b\134c`: `/media/a b\c`,
	} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
