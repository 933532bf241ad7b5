//go:build panicinject

package inject

import (
	"os"
	"strings"
	"sync"
)

// Enabled reports whether the build has the injection points.
const Enabled = true

// Env lists the points armed at start.
const Env = "NUCBOX_PANIC"

// HangEnv lists the hang points armed at start. The kernel hands a
// command line word NAME=VALUE whose NAME has no dot to init's
// environment, so an image built with NUCBOX_HANG=stage.reserve on its
// command line hangs there at every boot.
const HangEnv = "NUCBOX_HANG"

// PanicFile lists points to arm while running, comma or newline
// separated; each name in it fires once.
const PanicFile = "/run/nucbox-panic"

var (
	mu    sync.Mutex
	armed = map[string]bool{}
	fired = map[string]bool{}
	// hangs are the armed hang points, each with the channel its Hang
	// waits on: nothing closes it but Release, which only tests call.
	hangs = map[string]chan struct{}{}
)

func init() {
	for _, n := range split(os.Getenv(Env)) {
		armed[n] = true
	}
	for _, n := range split(os.Getenv(HangEnv)) {
		hangs[n] = make(chan struct{})
	}
}

func split(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' })
}

// Arm makes the next Point(name) panic.
func Arm(name string) {
	mu.Lock()
	defer mu.Unlock()
	armed[name] = true
	delete(fired, name)
}

// Point panics if name is armed, once per arming.
func Point(name string) {
	mu.Lock()
	if b, err := os.ReadFile(PanicFile); err == nil {
		for _, n := range split(string(b)) {
			if !fired[n] {
				armed[n] = true
			}
		}
	}
	hit := armed[name]
	if hit {
		delete(armed, name)
		fired[name] = true
	}
	mu.Unlock()
	if hit {
		panic("injected panic at " + name)
	}
}

// ArmHang makes every Hang(name) block.
func ArmHang(name string) {
	mu.Lock()
	defer mu.Unlock()
	if hangs[name] == nil {
		hangs[name] = make(chan struct{})
	}
}

// Release disarms the hang point name and lets the Hang calls blocked
// on it return, so that a test ends without a goroutine left behind.
func Release(name string) {
	mu.Lock()
	defer mu.Unlock()
	if c := hangs[name]; c != nil {
		close(c)
		delete(hangs, name)
	}
}

// Hang blocks, for good unless a test calls Release, when name is armed
// by ArmHang or in $NUCBOX_HANG, after saying so through logf: a stage
// stuck in a system call, or a goroutine deadlocked, looks like this.
func Hang(name string, logf func(format string, args ...any)) {
	mu.Lock()
	c := hangs[name]
	mu.Unlock()
	if c == nil {
		return
	}
	if logf != nil {
		logf("injected hang at %s: blocking for good", name)
	}
	<-c
}
