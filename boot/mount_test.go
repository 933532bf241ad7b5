package boot

import (
	"reflect"
	"strings"
	"testing"
)

const mountinfoFixture = `22 1 0:20 / / rw,relatime - tmpfs tmpfs rw,mode=755,inode64
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
25 22 0:5 / /dev rw,nosuid,relatime - devtmpfs devtmpfs rw,size=481896k,mode=755
26 25 0:23 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666
31 22 8:1 / /data\040disk rw,relatime shared:1 master:2 - ext4 /dev/sda1 rw
30 24 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate
bogus line
`

func TestParseMountInfo(t *testing.T) {
	got, err := parseMountInfo(strings.NewReader(mountinfoFixture))
	if err != nil {
		t.Fatal(err)
	}
	want := []mountInfo{
		{"/", "tmpfs", "tmpfs"},
		{"/proc", "proc", "proc"},
		{"/dev", "devtmpfs", "devtmpfs"},
		{"/dev/pts", "devpts", "devpts"},
		{"/data disk", "ext4", "/dev/sda1"},
		{"/sys/fs/cgroup", "cgroup2", "cgroup2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestUnescapeOctal(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`: "/a b", `/tab\011x`: "/tab\tx", `/back\134slash`: `/back\slash`,
		`/plain`: "/plain", `/short\04`: `/short\04`, `/bad\09x`: `/bad\09x`,
	} {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
}
