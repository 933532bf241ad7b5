package vmm

import (
	"errors"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Backoff spaces out restarts of a guest that keeps dying: Min after the
// first failure, doubling up to Max. A run that lasted Stable or longer
// resets the count, so a guest that crashes once a week restarts at once
// each time while a guest that crashes at boot settles at one attempt per
// Max instead of hammering the box.
type Backoff struct {
	Min, Max, Stable time.Duration
}

// DefaultBackoff is 1s doubling to 1 minute, reset after 5 minutes up.
var DefaultBackoff = Backoff{Min: time.Second, Max: time.Minute, Stable: 5 * time.Minute}

// Delay is the wait before restart number n (1-based) of a series of
// consecutive failures.
func (b Backoff) Delay(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	d := b.Min
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Failures returns the count of consecutive failures after a run of
// length ran that ended with a failure, given the count before it.
func (b Backoff) Failures(before int, ran time.Duration) int {
	if ran >= b.Stable {
		return 1
	}
	return before + 1
}

// shouldRestart applies a restart policy to a QEMU that exited on its own
// (not stopped by nucbox). exitErr is what Wait returned: nil for exit
// status 0, which QEMU uses when the guest powered itself off.
func shouldRestart(policy Restart, exitErr error) bool {
	switch policy {
	case RestartNever:
		return false
	case RestartOnFailure:
		return exitErr != nil
	}
	return true
}

// describeExit turns Wait's result into status text.
func describeExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + unix.SignalName(ws.Signal())
		}
		return ee.Error()
	}
	return err.Error()
}
