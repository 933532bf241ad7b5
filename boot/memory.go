package boot

import (
	"os"
	"runtime/debug"

	"github.com/nucbox/nucbox/config"
)

// PID 1's resident memory grew from about 29 MiB at ready to 80 MiB in
// the next 25 s with nothing happening. The Debian kernel has transparent
// huge pages set to "always", and khugepaged, which wakes every 10 s,
// collapses any 2 MiB range of anonymous memory with at least one page in
// use into a huge page (max_ptes_none 511 of 512 pages may be empty). The
// Go heap and stacks are sparse in that sense, so each collapse turned a
// few KiB into 2 MiB. PID 1 lets khugepaged collapse only ranges that are
// fully in use: QEMU's guest memory still gets huge pages (at fault time,
// and by khugepaged once a range is populated), PID 1's sparse heap no
// longer does.
const maxPTEsNone = "/sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_none"

// limitMemory keeps khugepaged from inflating sparse memory and sets the
// Go runtime's default soft memory limit; it is before the config, so
// that maintenance mode has both too. The config's limit replaces it
// once the config is read.
func (p *pid1) limitMemory() bool {
	if err := os.WriteFile(maxPTEsNone, []byte("0\n"), 0); err != nil && !os.IsNotExist(err) {
		Logf("memory: warning: %v", err)
	}
	setMemoryLimit(nil)
	return true
}

// setMemoryLimit sets PID 1's soft memory limit from cfg, the default
// without one.
func setMemoryLimit(cfg *config.Config) {
	limit := config.DefaultPID1Memory
	if cfg != nil && cfg.Reserve.PID1Memory != 0 {
		limit = cfg.Reserve.PID1Memory
	}
	if old := debug.SetMemoryLimit(int64(limit)); old != int64(limit) {
		Logf("memory: soft limit %s", limit)
	}
}
