package boot

import (
	"os"
	"runtime/debug"

	"github.com/nucbox/nucbox/config"
)

// PID 1's memory is mostly its own binary and a small heap: at ready,
// under QEMU, about 17 MiB of /init's pages (RssShmem, since / is a
// tmpfs) and 8-12 MiB of anonymous memory, of which 4-10 MiB sit in
// transparent huge pages, because the Debian kernel has them set to
// "always". khugepaged, which wakes every 10 s, would also collapse any
// 2 MiB range of PID 1's sparse heap with a single page in use into a
// huge page (max_ptes_none is 511 of 512 by default). PID 1 lets it
// collapse only ranges that are fully in use: QEMU's guest memory still
// gets huge pages (at fault time, and by khugepaged once populated), a
// sparse Go heap no longer grows that way. The soft memory limit makes
// the runtime collect harder and return memory when PID 1 nears it.
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
