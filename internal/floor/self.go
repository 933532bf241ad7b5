package floor

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Self is what ProtectSelf gives the calling process (PID 1).
type Self struct {
	// OOMScoreAdj -1000 takes the process out of the OOM killer's
	// choice: a memory hog outside the workloads' cgroup is killed, not
	// PID 1 (whose death panics the kernel).
	OOMScoreAdj int
	// NoFile is RLIMIT_NOFILE, soft and hard: the kernel starts init
	// with 1024 of at most 4096, which a few hundred open connections,
	// QEMU monitors and log files use up.
	NoFile uint64
	// PIDMax is the least kernel.pid_max: the kernel's default of 32768
	// (on a small box) is what a fork bomb reaches first.
	PIDMax int64
}

// PID1 is what PID 1 gives itself.
var PID1 = Self{OOMScoreAdj: -1000, NoFile: 1 << 16, PIDMax: 1 << 22}

// ProtectSelf sets s for the calling process and the kernel. Nothing is
// lowered: a pid_max or a descriptor limit above s stays.
func ProtectSelf(s Self) error {
	return protect(s, "/proc/self/oom_score_adj", "/proc/sys/kernel/pid_max")
}

func protect(s Self, oomFile, pidMaxFile string) error {
	if err := os.WriteFile(oomFile, []byte(strconv.Itoa(s.OOMScoreAdj)), 0); err != nil {
		return fmt.Errorf("oom_score_adj: %w", err)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("RLIMIT_NOFILE: %w", err)
	}
	if lim.Max < s.NoFile || lim.Cur < s.NoFile {
		n := max(lim.Max, s.NoFile)
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: n, Max: n}); err != nil {
			return fmt.Errorf("RLIMIT_NOFILE %d: %w", n, err)
		}
	}
	b, err := os.ReadFile(pidMaxFile)
	if err != nil {
		return fmt.Errorf("kernel.pid_max: %w", err)
	}
	cur, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return fmt.Errorf("kernel.pid_max: %w", err)
	}
	if cur < s.PIDMax {
		if err := os.WriteFile(pidMaxFile, []byte(strconv.FormatInt(s.PIDMax, 10)), 0); err != nil {
			return fmt.Errorf("kernel.pid_max %d: %w", s.PIDMax, err)
		}
	}
	return nil
}
