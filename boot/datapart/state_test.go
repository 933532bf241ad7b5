package datapart

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Note and Reason are what the box's status says of its data partition:
// what the boot did to it, and why one was not mounted.
func TestNoteAndReason(t *testing.T) {
	for _, tc := range []struct {
		res  *Result
		want string
	}{
		{nil, ""},
		{&Result{Check: "clean"}, ""},
		{&Result{Created: true, Formatted: true, Check: "new"}, "created and formatted at this boot"},
		{&Result{Formatted: true, Check: "new"}, "formatted at this boot (its first MiB was blank)"},
		{&Result{Grown: true, Check: "clean"}, "grown to fill its disk"},
		{&Result{Recovered: 32768, Check: "errors corrected"},
			"primary superblock damaged, repaired from backup at block 32768; e2fsck: errors corrected"},
	} {
		if got := Note(tc.res); got != tc.want {
			t.Errorf("Note(%+v) = %q, want %q", tc.res, got, tc.want)
		}
	}

	damaged := fmt.Errorf("wrapped: %w", &DamagedError{Device: "/dev/sda2", Reason: "no usable superblock: none found"})
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{damaged, "no usable superblock: none found: not mounted, not formatted"},
		{errors.New("datapart: e2fsck -p /dev/sda2: exit 4: errors left uncorrected; not mounting"),
			"e2fsck -p /dev/sda2: exit 4: errors left uncorrected; not mounting: not mounted, not formatted"},
	} {
		if got := Reason(tc.err); got != tc.want {
			t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	if s := Status(nil, damaged); !strings.HasPrefix(s, "/dev/sda2 NOT MOUNTED: no usable superblock") {
		t.Errorf("Status of a damaged partition = %q", s)
	}
	if s := Status(&Result{Device: "/dev/sda2", Check: "clean", Recovered: 8193}, nil); s != "/dev/sda2 mounted (e2fsck: clean); primary superblock damaged, repaired from backup at block 8193" {
		t.Errorf("Status of a repaired partition = %q", s)
	}
}
