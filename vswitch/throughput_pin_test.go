package vswitch_test

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// The throughput lab runs the sender and the receiver of every transfer
// on one and the same CPU, whichever path it measures. Left to the
// scheduler, the two sometimes shared a CPU and sometimes not, and a
// sample's rate said more about where they ran than about the path: on
// this 2-core machine single transfers spread by ±30 % and more, and
// paired samples of two paths by a factor of three. Bound apart, the
// sender's CPU is the bottleneck and the other CPU's share of the work
// moves with whatever else runs there. On one CPU every cycle of a
// transfer (the copies, TCP on both ends, the veths, the bridge and the
// rules, in the softirq a veth raises on the sending CPU) runs in turn
// on that CPU, so the rate is the path's CPU cost per byte, and the other
// CPU takes the machine's other work: the spread of the paired ratios
// fell to about ±15 %. The rates are lower than with two CPUs (about 11
// instead of 17 to 20 Gbit/s for the veth), for every path alike.
const transferCPU = 0

// onCPU runs f on the calling goroutine's thread bound to cpu, and
// restores the thread's CPUs before it goes back to Go's pool. On a
// machine with one CPU it runs f as it is.
func onCPU(cpu int, f func() error) error {
	if runtime.NumCPU() < 2 {
		return f()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, one unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return fmt.Errorf("CPUs of the thread: %w", err)
	}
	one.Set(cpu)
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		return fmt.Errorf("binding the thread to CPU %d: %w", cpu, err)
	}
	defer func() { _ = unix.SchedSetaffinity(0, &old) }()
	return f()
}
