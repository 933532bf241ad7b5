package floor

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/nucbox/nucbox/internal/cgroup"
)

// Parent is the cgroup every workload runs under and the reserve its
// limits keep for the box.
type Parent struct {
	// Path is the group, relative to the cgroup v2 mount.
	Path    string  `json:"path"`
	Reserve Reserve `json:"reserve"`
}

// Reserve is what the workloads together can never take.
type Reserve struct {
	// Memory in bytes.
	Memory int64 `json:"memory"`
	// PIDs counts processes and threads.
	PIDs int64 `json:"pids"`
}

// Host is what the kernel gives all processes together.
type Host struct {
	// Memory is MemTotal, in bytes.
	Memory int64
	// PIDs is the lower of kernel.pid_max and kernel.threads-max.
	PIDs int64
}

// ReadHost reads the box's totals from /proc.
func ReadHost() (Host, error) {
	var h Host
	mi, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return h, err
	}
	if h.Memory, err = memTotal(mi); err != nil {
		return h, err
	}
	for _, f := range []string{"/proc/sys/kernel/pid_max", "/proc/sys/kernel/threads-max"} {
		b, err := os.ReadFile(f)
		if err != nil {
			return h, err
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return h, fmt.Errorf("%s: %w", f, err)
		}
		if h.PIDs == 0 || n < h.PIDs {
			h.PIDs = n
		}
	}
	return h, nil
}

func memTotal(meminfo []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "MemTotal:" && f[2] == "kB" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/meminfo: MemTotal: %w", err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/meminfo: no MemTotal in kB")
}

// Limits are the parent's limits on host h: its totals minus the
// reserve. A reserve that leaves the workloads nothing is an error rather
// than a limit that would stop every workload.
func (p Parent) Limits(h Host) (cgroup.Limits, error) {
	l := cgroup.Limits{Memory: h.Memory - p.Reserve.Memory, PIDs: h.PIDs - p.Reserve.PIDs}
	if p.Reserve.Memory <= 0 || p.Reserve.PIDs <= 0 {
		return l, fmt.Errorf("workloads cgroup %s: no reserve (memory %d, pids %d)", p.Path, p.Reserve.Memory, p.Reserve.PIDs)
	}
	if l.Memory <= 0 {
		return l, fmt.Errorf("workloads cgroup %s: a reserve of %d MiB leaves nothing of the box's %d MiB",
			p.Path, p.Reserve.Memory>>20, h.Memory>>20)
	}
	if l.PIDs <= 0 {
		return l, fmt.Errorf("workloads cgroup %s: a reserve of %d processes leaves nothing of the box's %d",
			p.Path, p.Reserve.PIDs, h.PIDs)
	}
	return l, nil
}

// Apply makes the parent group under root (cgroup.Mount on the box)
// with the limits for this box, and returns them. It is idempotent; run
// it before the first workload starts and after ProtectSelf, which raises
// the box's process limit.
func (p Parent) Apply(root string) (cgroup.Limits, error) {
	h, err := ReadHost()
	if err != nil {
		return cgroup.Limits{}, err
	}
	l, err := p.Limits(h)
	if err != nil {
		return l, err
	}
	_, err = cgroup.Create(root, p.Path, l)
	return l, err
}
