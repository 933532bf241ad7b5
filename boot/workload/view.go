package workload

import (
	"errors"
	"io"
	"time"
)

// lookup is the named entry, nil for a name not in the pool.
func (p *Pool) lookup(name string) *entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.entries[name]
}

// status is e as the API shows it.
func (p *Pool) status(e *entry) Status {
	p.mu.Lock()
	w, err, errAt := e.w, e.err, e.errAt
	held, restarts, next := e.held, e.restarts, e.next
	supervised := e.sup != nil && e.sup.active()
	p.mu.Unlock()
	var st Status
	switch {
	case w != nil:
		if perr := p.callSafe(e.want.Name+": status", func() error { st = w.Status(); return nil }); perr != nil && err == nil {
			err, errAt = perr, time.Now()
		}
	case err != nil:
		st.Details = make(map[string]string, len(e.want.Details))
		for k, v := range e.want.Details {
			st.Details[k] = v
		}
	default:
		st.State = StateStarting
	}
	st.Kind, st.Name = p.o.Kind, e.want.Name
	if err != nil {
		st.State, st.LastError, st.LastErrorAt = StateFailed, err.Error(), errAt
	}
	var he *heldError
	if errors.As(err, &he) {
		st.State, held = StateStopped, true
	}
	st.Restarts, st.Held = restarts, held
	if !next.IsZero() {
		st.State, st.NextStart, st.PID = StateBackoff, next, 0
	}
	if held && !supervised && st.State != StateStopping {
		st.State = StateStopped
	}
	return st
}

// Statuses are the workloads of the last Apply, in its order.
func (p *Pool) Statuses() []Status {
	p.mu.Lock()
	es := make([]*entry, 0, len(p.order))
	for _, name := range p.order {
		if e, ok := p.entries[name]; ok {
			es = append(es, e)
		}
	}
	p.mu.Unlock()
	out := make([]Status, len(es))
	for i, e := range es {
		out[i] = p.status(e)
	}
	return out
}

// Status is the named workload's status.
func (p *Pool) Status(name string) (Status, bool) {
	e := p.lookup(name)
	if e == nil {
		return Status{}, false
	}
	return p.status(e), true
}

// made is e's workload and why it cannot run.
func (p *Pool) made(e *entry) (Workload, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return e.w, e.err
}

// Logs is the tail of the named workload's output; for one that cannot
// run, the reason.
func (p *Pool) Logs(name string) ([]byte, bool) {
	e := p.lookup(name)
	if e == nil {
		return nil, false
	}
	w, err := p.made(e)
	if w == nil {
		if err != nil {
			return []byte("error: " + err.Error() + "\n"), true
		}
		return nil, true
	}
	return w.Logs(), true
}

// Console opens the named workload's console: ErrUnknown for a name not
// in the pool, ErrNoConsole for a kind without one, ErrNotRunning while
// it does not run.
func (p *Pool) Console(name string) (io.ReadWriteCloser, error) {
	c, err := runningAs[Consoler](p, name, ErrNoConsole)
	if err != nil {
		return nil, err
	}
	return c.OpenConsole()
}

// OpenVNC connects to the named workload's screen: ErrUnknown for a name
// not in the pool, ErrNoDisplay for one without a screen, ErrNotRunning
// while it does not run.
func (p *Pool) OpenVNC(name string) (io.ReadWriteCloser, error) {
	sc, err := runningAs[Screener](p, name, ErrNoDisplay)
	if err != nil {
		return nil, err
	}
	return sc.OpenVNC()
}

// runningAs is the named workload's running run as a T: ErrUnknown for a
// name not in the pool, ErrNotRunning while it does not run, none when
// its kind is not a T.
func runningAs[T any](p *Pool, name string, none error) (T, error) {
	var zero T
	e := p.lookup(name)
	if e == nil {
		return zero, ErrUnknown
	}
	w, _ := p.made(e)
	if w == nil {
		return zero, ErrNotRunning
	}
	t, ok := w.(T)
	if !ok {
		return zero, none
	}
	return t, nil
}

// Usage measures the named workload, when its kind can.
func (p *Pool) Usage(name string) (Usage, bool) {
	e := p.lookup(name)
	if e == nil {
		return Usage{}, false
	}
	w, _ := p.made(e)
	m, ok := w.(Meter)
	if !ok {
		return Usage{}, false
	}
	u, err := m.Usage()
	return u, err == nil
}
