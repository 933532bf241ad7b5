package safe

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

type lines struct {
	mu  sync.Mutex
	got []string
}

func (l *lines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, fmt.Sprintf(format, args...))
}

func TestCallTurnsAPanicIntoAnError(t *testing.T) {
	var l lines
	err := Call(l.logf, func() error { panic("boom") })
	if err == nil || err.Error() != "panic: boom" {
		t.Errorf("Call = %v", err)
	}
	if len(l.got) != 1 || !strings.HasPrefix(l.got[0], "panic: boom\n") {
		t.Errorf("logged %q, want the panic with its stack", l.got)
	}
	if err := Call(l.logf, func() error { return nil }); err != nil {
		t.Errorf("Call of a quiet fn = %v", err)
	}
}

func TestGoRecovers(t *testing.T) {
	logged := make(chan string, 1)
	Go(func(format string, args ...any) { logged <- fmt.Sprintf(format, args...) }, "worker", func() { panic("boom") })
	if got := <-logged; !strings.HasPrefix(got, "worker: panic (recovered, PID 1 keeps running): boom\n") {
		t.Errorf("logged %q", got)
	}
}
