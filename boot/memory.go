package boot

import (
	"runtime/debug"

	"github.com/nucbox/nucbox/config"
)

// PID 1's memory is mostly its own binary and a small heap: at ready,
// under QEMU, about 17 MiB of /init's pages (RssShmem, since / is a
// tmpfs) and 8-12 MiB of anonymous memory. It used to grow to about
// 80 MiB right after ready on boots from a stick: marking the boot slot
// good read the slot's whole image (about 50 MiB) to find its version,
// and the Go heap kept those pages (fault-time transparent huge pages,
// which the Debian kernel has set to "always", and the runtime's
// scavenger leaves dense huge pages alone). Only the version section is
// read now (boot/slot). The soft memory limit makes the runtime collect
// harder and return freed memory when PID 1 nears it.

// limitMemory sets the Go runtime's default soft memory limit; it is
// before the config, so that maintenance mode has it too. Every apply
// sets the config's (the reserve stage, setMemoryLimit).
func (p *pid1) limitMemory() bool {
	setMemoryLimit(int64(config.DefaultPID1Memory))
	return true
}

// setMemoryLimit sets PID 1's soft memory limit.
func setMemoryLimit(limit int64) {
	if old := debug.SetMemoryLimit(limit); old != limit {
		Logf("memory: soft limit %s", config.Size(limit))
	}
}
