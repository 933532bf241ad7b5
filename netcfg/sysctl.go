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

// setForwardingCount writes the namespace's IPv4 forwarding switch and
// counts the write (0 when it was set already).
func setForwardingCount(ns *vswitch.Namespace, on bool) (int, error) {
	want := "0"
	if on {
		want = "1"
	}
	n := 0
	err := ns.Do(func() error {
		changed, err := writeSysctl("/proc/sys/net/ipv4/ip_forward", want)
		if err != nil {
			return fmt.Errorf("IPv4 forwarding: %w", err)
		}
		if changed {
			n = 1
		}
		return nil
	})
	return n, err
}
