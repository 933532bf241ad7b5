package safe

import (
	"fmt"
	"runtime/debug"
)

// Logf prints one line of the log the panics go to.
type Logf func(format string, args ...any)

// Go runs fn in a goroutine, logging a panic as name's instead of dying.
func Go(logf Logf, name string, fn func()) {
	go func() {
		defer Recover(logf, name)
		fn()
	}()
}

// Recover, deferred, logs a panic of the function that deferred it as
// name's and lets the process go on.
func Recover(logf Logf, name string) {
	if r := recover(); r != nil {
		logf("%s: panic (recovered, PID 1 keeps running): %v\n%s", name, r, debug.Stack())
	}
}

// Call calls fn and turns a panic into an error.
func Call(logf Logf, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			logf("panic: %v\n%s", r, debug.Stack())
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn()
}
