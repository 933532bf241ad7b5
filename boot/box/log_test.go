package box

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// testLog is PID 1's log as the box's tests read it: the lines the box
// prints through Options.Logf.
type testLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *testLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, "nucbox: "+format+"\n", args...)
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newTestBox is a box running stages, its log in the returned testLog.
func newTestBox(t *testing.T, stages ...Stage) (*Box, *testLog) {
	t.Helper()
	log := &testLog{}
	return New(Options{Logf: log.logf, Stages: append([]Stage{}, stages...)}), log
}
