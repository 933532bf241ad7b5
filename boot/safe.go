package boot

import (
	"context"
	"errors"
	"time"

	"github.com/nucbox/nucbox/internal/safe"
)

// PID 1 must never exit: a Go panic that unwinds a goroutine kills the
// process, and the kernel panics when init dies. Every goroutine PID 1
// starts goes through these wrappers (see internal/safe).

// goSafe runs fn in a goroutine, logging a panic instead of dying.
func goSafe(name string, fn func()) { safe.Go(Logf, name, fn) }

// goForever runs fn in a goroutine and runs it again, with backoff, if it
// returns or panics, for the loops PID 1 cannot do without (signals,
// reaping, the console shell, hotplug).
func goForever(name string, fn func()) {
	safe.Loop(context.Background(), Logf, name, foreverBackoff, func(context.Context) error {
		fn()
		return errReturned
	})
}

var errReturned = errors.New("returned")

// foreverBackoff keeps PID 1's own loops back within seconds even when
// they keep failing: a box that stops reaping or reading signals for
// a minute is worse off than one that logs a panic every few seconds.
var foreverBackoff = safe.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}

// goLoop runs fn in a goroutine and runs it again, with backoff, after a
// panic; it ends when fn returns.
func goLoop(name string, fn func()) {
	safe.Loop(context.Background(), Logf, name, safe.DefaultBackoff, func(context.Context) error {
		fn()
		return nil
	})
}

// recoverLog, deferred, logs a panic as name's and lets PID 1 go on.
func recoverLog(name string) { safe.Recover(Logf, name) }

// callSafe calls fn and turns a panic into an error.
func callSafe(fn func() error) error { return safe.Call(Logf, fn) }
