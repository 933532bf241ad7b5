package api

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// userHZ is the unit of the CPU times in /proc/PID/stat; Linux fixes it
// at 100 on every architecture the box runs on.
const userHZ = 100

// procUsage reads a process's CPU time (user + system, seconds) and
// resident memory (bytes) from /proc. For a VM that is QEMU itself; for
// a container its init process, until per-container cgroup figures exist.
func procUsage(proc string, pid int) (cpu float64, rss int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/stat", proc, pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after the last ')' are fixed.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("%s/%d/stat: no command name", proc, pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): utime is field 14, stime 15, rss 24.
	if len(f) < 22 {
		return 0, 0, fmt.Errorf("%s/%d/stat: %d fields", proc, pid, len(f)+2)
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	pages, err3 := strconv.ParseInt(f[21], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, fmt.Errorf("%s/%d/stat: malformed", proc, pid)
	}
	return float64(utime+stime) / userHZ, pages * int64(os.Getpagesize()), nil
}
