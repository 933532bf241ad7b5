package workload

import (
	"fmt"
	"time"
)

// Policy is when a workload whose run ended on its own is started again.
type Policy string

// Restart policies; the empty Policy is Always.
const (
	Always    Policy = "always"
	OnFailure Policy = "on-failure"
	Never     Policy = "never"
)

// ParsePolicy is the policy a compiled VM or container spec carries
// (the specs hold it as text: domain packages do not import the pool).
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case Always, OnFailure, Never:
		return p, nil
	}
	return "", fmt.Errorf("restart %q: want always, on-failure or never", s)
}

// Restarts reports whether p starts again a run that ended with err: nil
// for exit status 0 (a guest that powered itself off, a container that
// finished), the start's or the exit's error otherwise.
func (p Policy) Restarts(err error) bool {
	switch p {
	case Never:
		return false
	case OnFailure:
		return err != nil
	}
	return true
}

// Backoff spaces out restarts of a workload that keeps ending: Min after
// the first failure, doubling up to Max. A run that lasted Stable or
// longer resets the count, so a workload that crashes once a week
// restarts at once each time while one that crashes at start settles at
// one attempt per Max instead of hammering the box.
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
// length ran that ended, given the count before it. A clean exit under
// Always counts too: a workload that exits at once must not be restarted
// in a tight loop.
func (b Backoff) Failures(before int, ran time.Duration) int {
	if ran >= b.Stable {
		return 1
	}
	return before + 1
}
