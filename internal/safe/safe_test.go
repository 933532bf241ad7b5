package safe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
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

// A component that panics is restarted until it returns nil; the panic
// is logged with the component's name and stack, the restart with its
// pause.
func TestLoopRestartsAfterPanic(t *testing.T) {
	var l lines
	runs := 0
	done := Loop(context.Background(), l.logf, "dhcp client", Backoff{Min: time.Millisecond, Max: 4 * time.Millisecond, Healthy: time.Hour},
		func(context.Context) error {
			runs++
			switch runs {
			case 1, 2:
				panic("boom")
			case 3:
				return errors.New("link gone")
			}
			return nil
		})
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Loop did not end after its component returned nil")
	}
	if runs != 4 {
		t.Errorf("%d runs, want 4 (two panics and an error restarted, nil ends)", runs)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	text := strings.Join(l.got, "\n")
	for _, want := range []string{
		"dhcp client: panic (recovered, PID 1 keeps running): boom\ngoroutine",
		"dhcp client: panic: boom; restarting in 1ms",
		"dhcp client: panic: boom; restarting in 2ms",
		"dhcp client: link gone; restarting in 4ms",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}
}

// The end of the context stops a component that keeps failing, also in
// the middle of its pause.
func TestLoopStopsWithItsContext(t *testing.T) {
	var l lines
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{}, 100)
	done := Loop(ctx, l.logf, "reader", Backoff{Min: time.Hour}, func(context.Context) error {
		started <- struct{}{}
		panic("boom")
	})
	<-started
	select {
	case <-done:
		t.Fatal("Loop ended while its context was live")
	case <-time.After(20 * time.Millisecond):
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Loop did not end with its context")
	}
	if len(started) != 0 {
		t.Errorf("restarted %d time(s) within an hour's backoff", len(started))
	}
}

func TestBackoffDoublesUpToMaxAndResetsAfterAHealthyRun(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 5 * time.Second, Healthy: time.Minute}
	var got []time.Duration
	wait := b.Min
	for range 4 {
		var pause time.Duration
		pause, wait = b.next(wait, time.Second)
		got = append(got, pause)
	}
	pause, _ := b.next(wait, time.Minute)
	got = append(got, pause)
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pauses %v, want %v", got, want)
	}
	if d := (Backoff{}).orDefault(); d != DefaultBackoff {
		t.Errorf("zero Backoff = %+v, want the default", d)
	}
}
