package boot

import (
	"reflect"
	"testing"
)

func TestParseCmdline(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"console=ttyS0 panic=-1\n", []string{"console=ttyS0", "panic=-1"}},
		{"  quiet   ro  ", []string{"quiet", "ro"}},
		{`nucbox.config="/etc/my box.yaml" x=1`, []string{"nucbox.config=/etc/my box.yaml", "x=1"}},
		{`"a b"=c`, []string{"a b=c"}},
		{"a=1 -- init args here", []string{"a=1"}},
		{"a=1 --x", []string{"a=1", "--x"}},
		{"a=b=c", []string{"a=b=c"}},
		{"a=\"\"", []string{"a="}},
	} {
		if got := ParseCmdline(tc.in).Params(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseCmdline(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCmdlineGet(t *testing.T) {
	c := ParseCmdline("console=tty0 console=ttyS0 quiet nucbox.config=/a.yaml a=b=c")
	for _, tc := range []struct {
		name  string
		val   string
		found bool
	}{
		{"console", "ttyS0", true}, // the last one wins, as in the kernel
		{"quiet", "", true},
		{"nucbox.config", "/a.yaml", true},
		{"a", "b=c", true},
		{"missing", "", false},
		{"nucbox", "", false},
	} {
		v, ok := c.Get(tc.name)
		if v != tc.val || ok != tc.found {
			t.Errorf("Get(%q) = %q, %v; want %q, %v", tc.name, v, ok, tc.val, tc.found)
		}
	}
}
