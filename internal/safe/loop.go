package safe

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// Backoff is how long a restarting component waits before it runs
// again: Min after the first failure, doubled after each one up to Max,
// and back to Min once a run lasted Healthy.
type Backoff struct {
	Min, Max, Healthy time.Duration
}

// DefaultBackoff suits the box's components: a quick first restart, a
// panic on every packet costs at most one run a minute.
var DefaultBackoff = Backoff{Min: 100 * time.Millisecond, Max: time.Minute, Healthy: 2 * time.Minute}

// Run runs fn, the body of a long-lived component named name, until it
// returns nil or ctx ends. A panic (logged with its stack) or an error
// (logged) restarts it after the backoff, so a bug hit by one odd
// packet costs the component a restart instead of PID 1 its life. It
// blocks; Loop runs it in a goroutine.
func Run(ctx context.Context, logf Logf, name string, b Backoff, fn func(context.Context) error) {
	b = b.orDefault()
	wait := b.Min
	for {
		began := time.Now()
		err := runOnce(ctx, logf, name, fn)
		if err == nil || ctx.Err() != nil {
			return
		}
		var pause time.Duration
		pause, wait = b.next(wait, time.Since(began))
		logf("%s: %v; restarting in %v", name, err, pause)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// next is the pause before the restart of a run that lasted ran, when
// the pause would have been wait, and the pause after the next failure.
func (b Backoff) next(wait, ran time.Duration) (pause, later time.Duration) {
	if ran >= b.Healthy {
		wait = b.Min
	}
	return wait, min(2*wait, b.Max)
}

// Loop is Run in a goroutine of its own; the channel it returns is
// closed when the component has ended for good.
func Loop(ctx context.Context, logf Logf, name string, b Backoff, fn func(context.Context) error) <-chan struct{} {
	done := make(chan struct{})
	Go(logf, name, func() {
		defer close(done)
		Run(ctx, logf, name, b, fn)
	})
	return done
}

// errPanicked marks a run that ended in a panic, already logged.
type errPanicked struct{ v any }

func (e errPanicked) Error() string { return fmt.Sprintf("panic: %v", e.v) }

func runOnce(ctx context.Context, logf Logf, name string, fn func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			logf("%s: panic (recovered, PID 1 keeps running): %v\n%s", name, r, debug.Stack())
			err = errPanicked{r}
		}
	}()
	return fn(ctx)
}

func (b Backoff) orDefault() Backoff {
	d := DefaultBackoff
	if b.Min > 0 {
		d.Min = b.Min
	}
	if b.Max > 0 {
		d.Max = b.Max
	}
	if b.Healthy > 0 {
		d.Healthy = b.Healthy
	}
	d.Max = max(d.Max, d.Min)
	return d
}

// Slog is a Logf for a package that logs through slog: every line an
// error record.
func Slog(log *slog.Logger) Logf {
	if log == nil {
		return func(string, ...any) {}
	}
	return func(format string, args ...any) { log.Error(fmt.Sprintf(format, args...)) }
}
