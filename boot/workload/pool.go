package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"runtime/debug"
	"sync"
	"time"

	"github.com/nucbox/nucbox/internal/safe"
)

// Options configure a Pool.
type Options struct {
	// Kind is what the pool runs, as the API names it: "vm", "container".
	Kind string
	// Noun names one workload in errors ("VM"); default Kind.
	Noun string
	// Log receives the pool's lines. The lines that are part of the
	// console's contract ("web: FAILED: ...") are Info records without
	// attributes, so a handler that prints the message prints them as
	// they are.
	Log *slog.Logger
	// Backoff spaces restarts (default DefaultBackoff).
	Backoff Backoff
	// Settle bounds how long Apply waits for the first start of new
	// workloads (0: until each answers); a start still under way then
	// goes on in the background. With a Settle, a start request waits at
	// most 15s, so that its answer comes before an API client gives up.
	Settle time.Duration
}

// Pool runs one kind of workload: it applies the desired set (starting
// the new, stopping the removed, replacing the changed and leaving the
// unchanged running untouched), restarts what ends on its own by its
// policy with backoff, holds what was stopped on request, answers start,
// stop and restart requests, and follows logs across restarts. Every
// goroutine it starts recovers from a panic: the workload is then shown
// as failed, the box goes on.
type Pool struct {
	o   Options
	log *slog.Logger

	// ctl serializes Apply and Control.
	ctl sync.Mutex

	mu      sync.Mutex
	entries map[string]*entry
	order   []string // of the last Apply, for the listings
}

type entry struct {
	want Want
	w    Workload // nil while it cannot run (see err), or not yet made
	// err is why the workload cannot run: Want.Err, New's error, or a
	// panic of its supervision; errAt is when.
	err   error
	errAt time.Time
	// held is set by a stop request, cleared by a start request.
	held     bool
	restarts int
	// next is when a workload in backoff starts again, zero otherwise.
	next time.Time
	// failed is set when the supervision ended on its own with an
	// error: an apply replaces the workload, to retry it.
	failed bool
	sup    *supervision
	// gone is closed once the entry was dropped from the pool and its
	// workload stopped and closed: followers move to its successor.
	gone chan struct{}
}

// supervision is one stretch of runs of an entry, from a start (by an
// apply or a request) until it is halted or ends by its policy.
type supervision struct {
	cancel context.CancelFunc
	done   chan struct{}
	first  chan error // the first start's answer, once the state says what follows
	once   sync.Once
}

func (s *supervision) answer(err error) { s.once.Do(func() { s.first <- err }) }

func (s *supervision) active() bool { return !closedChan(s.done) }

// errHalted answers a first start that a stop cut short.
var errHalted = errors.New("halted")

// NewPool returns an empty pool.
func NewPool(o Options) *Pool {
	if o.Noun == "" {
		o.Noun = o.Kind
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Backoff == (Backoff{}) {
		o.Backoff = DefaultBackoff
	}
	return &Pool{o: o, log: o.Log, entries: map[string]*entry{}}
}

// say prints a line of the console's contract.
func (p *Pool) say(format string, a ...any) { p.log.Info(fmt.Sprintf(format, a...)) }

// goSafe runs fn in a goroutine; a panic is logged with its stack and
// handed to onPanic.
func (p *Pool) goSafe(what string, fn func(), onPanic func(error)) {
	safe.Go(safe.Slog(p.log), what, func() {
		defer p.recoverAs(what, onPanic)
		fn()
	})
}

func (p *Pool) recoverAs(what string, onPanic func(error)) {
	r := recover()
	if r == nil {
		return
	}
	err := fmt.Errorf("panic in %s: %v", what, r)
	p.log.Error(err.Error(), "stack", string(debug.Stack()))
	if onPanic != nil {
		onPanic(err)
	}
}

// callSafe runs fn, turning a panic into its error.
func (p *Pool) callSafe(what string, fn func() error) (err error) {
	defer p.recoverAs(what, func(e error) { err = e })
	return fn()
}

// Apply makes the pool run wants, in their order: new workloads are made
// and started, removed and changed ones (another Key or Policy) stopped (in parallel) before
// their successors start, and unchanged ones left running untouched,
// with their process and restart count. A workload that failed and is
// not held is replaced, which retries it: applying the config again is
// how an operator retries it after fixing its files. Apply then waits for
// the new workloads' first start (see Options.Settle) and says on the
// console how each went. A workload's failure is never Apply's: it is
// shown in its status while the others run.
func (p *Pool) Apply(ctx context.Context, wants []Want) {
	p.ctl.Lock()
	fresh, idle, stale := p.diff(wants)
	for _, e := range fresh {
		p.make(e)
	}
	if len(stale) > 0 {
		p.drop(ctx, stale)
	}
	var started []start
	if ctx.Err() == nil {
		for _, e := range append(fresh, idle...) {
			if s := p.supervise(e); s != nil {
				started = append(started, start{e, s})
			}
		}
	}
	p.ctl.Unlock()
	p.settle(ctx, started)
}

type start struct {
	e *entry
	s *supervision
}

// diff updates the entries to wants: fresh are the new entries, idle the
// kept ones that never started, stale the dropped ones.
func (p *Pool) diff(wants []Want) (fresh, idle, stale []*entry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	byName := make(map[string]Want, len(wants))
	order := make([]string, 0, len(wants))
	for _, w := range wants {
		if _, dup := byName[w.Name]; !dup {
			order = append(order, w.Name)
		}
		byName[w.Name] = w
	}
	for name, e := range p.entries {
		w, ok := byName[name]
		if ok && w.Err == nil && w.Hold == "" && e.w != nil && e.err == nil && !(e.failed && !e.held) &&
			w.Policy == e.want.Policy && reflect.DeepEqual(w.Key, e.want.Key) {
			continue
		}
		stale = append(stale, e)
		delete(p.entries, name)
	}
	p.order = order
	for _, name := range order {
		if e, ok := p.entries[name]; ok {
			if e.sup == nil && !e.held {
				idle = append(idle, e)
			}
			continue
		}
		e := &entry{want: byName[name], gone: make(chan struct{})}
		p.entries[name] = e
		fresh = append(fresh, e)
	}
	return fresh, idle, stale
}

// make makes e's workload, or records why it cannot run.
func (p *Pool) make(e *entry) {
	var w Workload
	err := e.want.Err
	if e.want.Hold != "" && err == nil {
		err = &heldError{e.want.Hold}
	}
	if err == nil {
		err = p.callSafe(e.want.Name+": new", func() error {
			if e.want.New == nil {
				return errors.New("nothing to run")
			}
			var err error
			w, err = e.want.New()
			return err
		})
	}
	p.mu.Lock()
	if err != nil {
		e.err, e.errAt = err, time.Now()
	} else {
		e.w = w
	}
	p.mu.Unlock()
	var he *heldError
	switch {
	case errors.As(err, &he):
		p.say("%s: held, not started: %s", e.want.Name, he.reason)
	case err != nil:
		p.say("%s: FAILED: %v (the box carries on without it)", e.want.Name, err)
	}
}

// heldError is a Want's Hold: the entry cannot run, as with an error,
// but it is shown as held rather than failed.
type heldError struct{ reason string }

func (e *heldError) Error() string { return "held: " + e.reason }
func (e *heldError) Unwrap() error { return ErrHeld }

// supervise starts a supervision of e: its runs, restarted by its
// policy, until halted. It returns nil for an entry that cannot run or
// left the pool.
func (p *Pool) supervise(e *entry) *supervision {
	ctx, cancel := context.WithCancel(context.Background())
	s := &supervision{cancel: cancel, done: make(chan struct{}), first: make(chan error, 1)}
	p.mu.Lock()
	if p.entries[e.want.Name] != e || e.w == nil || e.err != nil {
		p.mu.Unlock()
		cancel()
		return nil
	}
	e.sup, e.failed, e.next = s, false, time.Time{}
	p.mu.Unlock()
	safe.Go(safe.Slog(p.log), e.want.Name+": supervision", func() {
		defer close(s.done)
		defer p.recoverAs(e.want.Name+": supervision", func(err error) {
			p.mu.Lock()
			e.err, e.errAt, e.next = err, time.Now(), time.Time{}
			p.mu.Unlock()
			s.answer(err)
		})
		p.run(ctx, e, s)
	})
	return s
}

// run is a supervision: start, wait for the end, restart by the policy
// after the backoff, until ctx ends.
func (p *Pool) run(ctx context.Context, e *entry, s *supervision) {
	w, name := e.w, e.want.Name
	failures := 0
	for {
		began := time.Now()
		err := w.Start(ctx)
		var ran time.Duration
		if err == nil {
			s.answer(nil)
			select {
			case <-w.Done():
				err = w.Err()
			case <-ctx.Done():
				// The halt stops the run.
				return
			}
			ran = time.Since(began)
		}
		if ctx.Err() != nil {
			s.answer(errHalted)
			return
		}
		if !e.want.Policy.Restarts(err) {
			p.mu.Lock()
			e.failed = err != nil
			p.mu.Unlock()
			s.answer(err)
			p.log.Info("not restarted", p.o.Kind, name, "policy", policyName(e.want.Policy), "state", w.Status().State)
			// The run is over for good: its console sessions end.
			w.Stop(context.Background())
			return
		}
		failures = p.o.Backoff.Failures(failures, ran)
		delay := p.o.Backoff.Delay(failures)
		p.mu.Lock()
		e.next = time.Now().Add(delay)
		p.mu.Unlock()
		s.answer(err)
		p.log.Info("restarting", p.o.Kind, name, "in", delay, "consecutive-failures", failures)
		if n, ok := w.(Noter); ok {
			n.Note(fmt.Sprintf("restarting in %v", delay))
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			p.mu.Lock()
			e.next = time.Time{}
			p.mu.Unlock()
			return
		case <-t.C:
		}
		p.mu.Lock()
		e.next = time.Time{}
		e.restarts++
		p.mu.Unlock()
	}
}

func policyName(p Policy) Policy {
	if p == "" {
		return Always
	}
	return p
}

// halt ends e's supervision and stops its run.
func (p *Pool) halt(ctx context.Context, e *entry) error {
	p.mu.Lock()
	s, w := e.sup, e.w
	p.mu.Unlock()
	if s != nil {
		s.cancel()
		<-s.done
	}
	if w == nil {
		return nil
	}
	return p.callSafe(e.want.Name+": stop", func() error { return w.Stop(ctx) })
}

// drop stops es in parallel, closes them and sends their followers on,
// waiting for all of them or for ctx: a workload still stopping then is
// left to the power-off.
func (p *Pool) drop(ctx context.Context, es []*entry) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, e := range es {
		wg.Add(1)
		p.goSafe(e.want.Name+": stop", func() {
			defer wg.Done()
			defer close(e.gone)
			was := p.status(e)
			w, _ := p.made(e)
			if err := p.halt(ctx, e); err != nil {
				p.say("%s: stop: %v", e.want.Name, err)
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", e.want.Name, err))
				mu.Unlock()
			} else if w != nil && was.State != StateStopped && was.State != StateExited && was.State != StateFailed {
				p.say("%s stopped (was %s; %s)", e.want.Name, was.State, p.status(e).LastExit)
			}
			if c, ok := w.(io.Closer); ok {
				c.Close()
			}
		}, nil)
	}
	done := make(chan struct{})
	p.goSafe("stop", func() {
		wg.Wait()
		close(done)
	}, nil)
	select {
	case <-done:
		mu.Lock()
		defer mu.Unlock()
		return errors.Join(errs...)
	case <-ctx.Done():
		return fmt.Errorf("%d %s(s) still stopping: %w", len(es), p.o.Noun, ctx.Err())
	}
}

// Stop stops every workload at once, within ctx, and empties the pool:
// one after the other, a few slow ones would use up the whole shutdown
// budget.
func (p *Pool) Stop(ctx context.Context) error {
	p.mu.Lock()
	var all []*entry
	for _, name := range p.order {
		if e, ok := p.entries[name]; ok {
			all = append(all, e)
		}
	}
	p.entries, p.order = map[string]*entry{}, nil
	p.mu.Unlock()
	if len(all) == 0 {
		return nil
	}
	return p.drop(ctx, all)
}

// settle waits for the first start of each of started, bounded by
// Options.Settle and ctx, and says how it went.
func (p *Pool) settle(ctx context.Context, started []start) {
	if len(started) == 0 {
		return
	}
	var deadline <-chan time.Time
	if p.o.Settle > 0 {
		t := time.NewTimer(p.o.Settle)
		defer t.Stop()
		deadline = t.C
	}
	for i, st := range started {
		select {
		case err := <-st.s.first:
			p.report(st.e, err)
		case <-ctx.Done():
			return
		case <-deadline:
			for _, st := range started[i:] {
				select {
				case err := <-st.s.first:
					p.report(st.e, err)
				default:
					p.say("%s: still %s after %v; it goes on in the background", st.e.want.Name, p.status(st.e).State, p.o.Settle)
				}
			}
			return
		}
	}
}

// report says how a first start went.
func (p *Pool) report(e *entry, err error) {
	if errors.Is(err, errHalted) {
		return
	}
	st := p.status(e)
	switch {
	case err == nil && st.State == StateRunning:
		p.say("%s: running pid %d (%s) %d ms after its start", st.Name, st.PID, st.Brief, st.StartupTime.Milliseconds())
	case err != nil || st.LastError != "":
		msg := st.LastError
		if err != nil {
			msg = err.Error()
		}
		p.say("%s: FAILED: %s (%s; the box carries on without it)", st.Name, msg, retryNote(st))
	default:
		p.say("%s: %s (%s)", st.Name, st.State, st.LastExit)
	}
}

func retryNote(st Status) string {
	if st.State == StateBackoff && !st.NextStart.IsZero() {
		return "retrying in " + time.Until(st.NextStart).Round(100*time.Millisecond).String()
	}
	return "not restarted by its policy"
}

func closedChan(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
