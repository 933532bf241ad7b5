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

// PanicFile lists points to arm while running, comma or newline
// separated; each name in it fires once.
const PanicFile = "/run/nucbox-panic"

var (
	mu    sync.Mutex
	armed = map[string]bool{}
	fired = map[string]bool{}
)

func init() {
	for _, n := range split(os.Getenv(Env)) {
		armed[n] = true
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
