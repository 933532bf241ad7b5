package netcfg

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/nucbox/nucbox/vswitch"
)

// errNoSysctl is a setting the kernel does not have (no IPv6, a link
// that is gone).
var errNoSysctl = errors.New("no such setting")

// writeSysctl sets a /proc/sys file to value unless it holds it already,
// and tells whether it wrote. Writing only on a change keeps the kernel
// from resetting settings it derives from the one written (ip_forward
// resets every interface's). Files under /proc/sys/net belong to the
// network namespace of the thread that opens them: call it inside
// Namespace.Do.
func writeSysctl(file, value string) (bool, error) {
	cur, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("%s: %w", file, errNoSysctl)
	}
	if err != nil {
		return false, err
	}
	if strings.TrimSpace(string(cur)) == value {
		return false, nil
	}
	if err := os.WriteFile(file, []byte(value), 0); err != nil {
		return false, err
	}
	return true, nil
}

// setForwardingCount turns on (on) the forwarding of the families set
// (IPv4 with v4, IPv6 with v6), or off that of the families not set, and
// counts the writes (0 when they were so already). A kernel without IPv6
// has none to turn off.
func setForwardingCount(ns *vswitch.Namespace, v4, v6, on bool) (int, error) {
	n := 0
	err := ns.Do(func() error {
		for _, f := range []struct {
			set      bool
			file     string
			what     string
			optional bool
		}{
			{v4, "/proc/sys/net/ipv4/ip_forward", "IPv4", false},
			{v6, "/proc/sys/net/ipv6/conf/all/forwarding", "IPv6", true},
		} {
			// Turning on sets what forwards; turning off, what does not.
			if f.set != on {
				continue
			}
			want := "0"
			if on {
				want = "1"
			}
			changed, err := writeSysctl(f.file, want)
			if err != nil && !(f.optional && !on && errors.Is(err, errNoSysctl)) {
				return fmt.Errorf("%s forwarding: %w", f.what, err)
			}
			if changed {
				n++
			}
		}
		return nil
	})
	return n, err
}
