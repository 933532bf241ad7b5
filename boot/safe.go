package boot

import (
	"fmt"
	"runtime/debug"
	"time"
)

// PID 1 must never exit: a Go panic that unwinds a goroutine kills the
// process, and the kernel panics when init dies. Every goroutine PID 1
// starts goes through these wrappers.

// goSafe runs fn in a goroutine, logging a panic instead of dying.
func goSafe(name string, fn func()) {
	go func() {
		defer recoverLog(name)
		fn()
	}()
}

// goForever runs fn in a goroutine and runs it again if it returns or
// panics, for the loops PID 1 cannot do without (signals, reaping).
func goForever(name string, fn func()) {
	go func() {
		for {
			func() {
				defer recoverLog(name)
				fn()
			}()
			time.Sleep(time.Second)
		}
	}()
}

func recoverLog(name string) {
	if r := recover(); r != nil {
		Logf("%s: panic (recovered, PID 1 keeps running): %v\n%s", name, r, debug.Stack())
	}
}

// callSafe calls fn and turns a panic into an error.
func callSafe(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			Logf("panic: %v\n%s", r, debug.Stack())
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn()
}
