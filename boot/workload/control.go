package workload

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// controlWait bounds how long a start request waits for a start that
// may be slow (an image pull), so that the answer comes before the API
// client gives up.
const controlWait = 15 * time.Second

// Control starts, stops or restarts the named workload on request and
// returns its status after. A stop ends the run as at power-off and holds
// the workload stopped, through applies and its restart policy, until a
// start; a start or restart begins a new supervision on the same
// workload, so its log and console history carry on.
func (p *Pool) Control(ctx context.Context, name string, a Action) (Status, error) {
	switch a {
	case Start, Stop, Restart:
	default:
		return Status{}, fmt.Errorf("unknown action %q", a)
	}
	p.ctl.Lock()
	defer p.ctl.Unlock()
	e := p.lookup(name)
	if e == nil {
		return Status{}, ErrUnknown
	}
	p.mu.Lock()
	err, made := e.err, e.w != nil
	supervised := e.sup != nil && e.sup.active()
	running := supervised && !e.held
	p.mu.Unlock()
	if err != nil || !made {
		if err == nil {
			err = errors.New("not made yet")
		}
		return Status{}, fmt.Errorf("%s %s cannot run: %w", p.o.Noun, name, err)
	}
	// The workload gets its whole stop even when the client gives up.
	stopCtx := context.WithoutCancel(ctx)
	switch a {
	case Stop:
		p.mu.Lock()
		e.held = true
		p.mu.Unlock()
		if supervised {
			p.say("%s: stopping on request", name)
			if err := p.halt(stopCtx, e); err != nil {
				return p.status(e), err
			}
		}
		p.say("%s: stopped on request; it stays stopped until nucbox start %s", name, name)
		return p.status(e), nil
	case Start:
		if running && !p.ending(e) {
			return p.status(e), nil
		}
	case Restart:
		if running {
			p.say("%s: restarting on request", name)
			if err := p.halt(stopCtx, e); err != nil {
				return p.status(e), err
			}
		}
	}
	p.mu.Lock()
	e.held = false
	if a == Restart {
		e.restarts++
	}
	p.mu.Unlock()
	s := p.supervise(e)
	if s == nil {
		return p.status(e), fmt.Errorf("%s %s left the config meanwhile", p.o.Noun, name)
	}
	var deadline <-chan time.Time
	if p.o.Settle > 0 {
		t := time.NewTimer(min(p.o.Settle, controlWait))
		defer t.Stop()
		deadline = t.C
	}
	select {
	case err = <-s.first:
	case <-deadline:
	case <-ctx.Done():
	}
	st := p.status(e)
	if err != nil && !errors.Is(err, errHalted) && ctx.Err() == nil {
		p.say("%s: FAILED: %v (state %s)", name, err, st.State)
		return st, nil
	}
	p.say("%s: %sed on request (%s)", name, a, st.State)
	return st, nil
}

// ending reports whether e's supervision ends without a restart, waiting
// for its decision when the run has just ended: a start request right
// after an exit must not be taken for one on a running workload.
func (p *Pool) ending(e *entry) bool {
	p.mu.Lock()
	s, w, next := e.sup, e.w, e.next
	p.mu.Unlock()
	if s == nil || !next.IsZero() {
		return s != nil && !s.active()
	}
	if !closedChan(w.Done()) {
		return false
	}
	t := time.NewTimer(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return true
		case <-t.C:
			return false
		case <-time.After(time.Millisecond):
		}
		p.mu.Lock()
		next = e.next
		p.mu.Unlock()
		if !next.IsZero() || !closedChan(w.Done()) {
			return false
		}
	}
}
