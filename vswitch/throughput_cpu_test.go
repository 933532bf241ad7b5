package vswitch_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// The CPU time a transfer costs is the second figure of the throughput
// lab, besides its rate: the rate of one transfer on a shared machine
// moves by a third with what else runs, the CPU time the kernel spends
// per byte much less, and on a path bound by the sender's CPU the two
// say the same thing. A transfer's CPU time is what its two threads ran
// (the sender's includes the receive side of its frames, the bridge and
// the rules among them, in the softirq the veth raises on its CPU; the
// receiver's the same for the acknowledgements) plus what ksoftirqd ran
// meanwhile, for softirq work the kernel deferred to it. The kernel here
// has no separate IRQ time accounting, so softirq time run in a thread's
// context counts as that thread's: /proc's schedstat has it, to the
// nanosecond.

// threadCPU is the CPU time thread tid of this process has run.
func threadCPU(tid int) (time.Duration, error) {
	return schedstat(fmt.Sprintf("/proc/self/task/%d/schedstat", tid))
}

func schedstat(file string) (time.Duration, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	f := bytes.Fields(b)
	if len(f) == 0 {
		return 0, fmt.Errorf("%s: empty", file)
	}
	ns, err := strconv.ParseInt(string(f[0]), 10, 64)
	return time.Duration(ns), err
}

// ksoftirqds are the schedstat files of the ksoftirqd threads; none when
// this process cannot see them (not in the initial PID namespace).
func ksoftirqds() []string {
	var out []string
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, c := range comms {
		if b, err := os.ReadFile(c); err == nil && bytes.HasPrefix(b, []byte("ksoftirqd/")) {
			out = append(out, filepath.Join(filepath.Dir(c), "schedstat"))
		}
	}
	return out
}

// softirqCPU is what the ksoftirqd threads in files have run.
func softirqCPU(files []string) time.Duration {
	var sum time.Duration
	for _, f := range files {
		d, err := schedstat(f)
		if err == nil {
			sum += d
		}
	}
	return sum
}
