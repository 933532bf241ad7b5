package box

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/boot/workload"
)

// workloadStage is a stage that runs workloads through a pool; the API
// reaches every kind through it.
type workloadStage interface {
	Stage
	api.WorkloadSource
	Pool() *workload.Pool
	control(ctx context.Context, name string, a api.WorkloadAction) (api.Workload, error)
	console(name string) (io.ReadWriteCloser, error)
	vnc(name string) (io.ReadWriteCloser, error)
	log(ctx context.Context, name string, follow bool) ([]api.LogLine, <-chan api.LogLine, bool)
	usage(w api.Workload) (api.Usage, bool)
}

// poolStage is what the stages that run workloads share: one pool of
// their kind, made at their first apply, stopped at shutdown, and seen by
// the API the same way for every kind.
type poolStage struct {
	lg     logger // the stage's log
	uptime func() time.Duration
	// hold is which workloads the data partition holds now; nil holds
	// none.
	hold func() dataHold

	mu   sync.Mutex
	pool *workload.Pool
}

// now is the time since boot, for log lines.
func (s *poolStage) now() time.Duration {
	if s.uptime == nil {
		return 0
	}
	return s.uptime()
}

// dataHold is the hold of the data partition at this apply.
func (s *poolStage) dataHold() dataHold {
	if s.hold == nil {
		return dataHold{}
	}
	return s.hold()
}

// thePool returns the stage's pool, made with o the first time.
func (s *poolStage) thePool(o workload.Options) *workload.Pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool == nil {
		s.pool = workload.NewPool(o)
	}
	return s.pool
}

// Pool is the stage's pool, nil before its first apply.
func (s *poolStage) Pool() *workload.Pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pool
}

// Stop stops every workload of the stage at once, within ctx.
func (s *poolStage) Stop(ctx context.Context) error {
	if p := s.Pool(); p != nil {
		return p.Stop(ctx)
	}
	return nil
}

func (s *poolStage) statuses() []workload.Status {
	if p := s.Pool(); p != nil {
		return p.Statuses()
	}
	return nil
}

// Workloads lists the stage's workloads for the API, in config order.
func (s *poolStage) Workloads() []api.Workload {
	sts := s.statuses()
	out := make([]api.Workload, len(sts))
	for i, st := range sts {
		out[i] = apiWorkload(st)
	}
	return out
}

// control runs a start, stop or restart request.
func (s *poolStage) control(ctx context.Context, name string, a api.WorkloadAction) (api.Workload, error) {
	p := s.Pool()
	if p == nil {
		return api.Workload{}, api.ErrNoWorkload
	}
	st, err := p.Control(ctx, name, workload.Action(a))
	switch {
	case errors.Is(err, workload.ErrUnknown):
		return api.Workload{}, api.ErrNoWorkload
	case errors.Is(err, workload.ErrHeld):
		return api.Workload{}, heldErr{err}
	case st.Name == "":
		return api.Workload{}, err
	}
	return apiWorkload(st), err
}

// heldErr is the pool's refusal to start a held workload, as the API
// knows it (api.ErrHeld), with the pool's message.
type heldErr struct{ error }

func (heldErr) Is(target error) bool { return target == api.ErrHeld }

// console opens the named workload's console.
func (s *poolStage) console(name string) (io.ReadWriteCloser, error) {
	p := s.Pool()
	if p == nil {
		return nil, api.ErrNoWorkload
	}
	c, err := p.Console(name)
	switch {
	case errors.Is(err, workload.ErrUnknown), errors.Is(err, workload.ErrNoConsole):
		return nil, api.ErrNoWorkload
	case errors.Is(err, workload.ErrNotRunning):
		return nil, api.ErrNotRunning
	}
	return c, err
}

// vnc opens the named workload's screen.
func (s *poolStage) vnc(name string) (io.ReadWriteCloser, error) {
	p := s.Pool()
	if p == nil {
		return nil, api.ErrNoWorkload
	}
	c, err := p.OpenVNC(name)
	switch {
	case errors.Is(err, workload.ErrUnknown):
		return nil, api.ErrNoWorkload
	case errors.Is(err, workload.ErrNoDisplay):
		return nil, api.ErrNoDisplay
	case errors.Is(err, workload.ErrNotRunning):
		return nil, api.ErrNotRunning
	}
	return c, err
}

// logLines is the tail of the named workload's output as lines; ok is
// false for a name that is not one of the stage's.
func (s *poolStage) logLines(name string) ([]api.LogLine, bool) {
	p := s.Pool()
	if p == nil {
		return nil, false
	}
	b, ok := p.Logs(name)
	if !ok {
		return nil, false
	}
	return textLines(b), true
}

// log is the named workload's output as lines and, when follow is set,
// its later lines until ctx ends; the stream carries on across restarts.
func (s *poolStage) log(ctx context.Context, name string, follow bool) ([]api.LogLine, <-chan api.LogLine, bool) {
	if !follow {
		lines, ok := s.logLines(name)
		return lines, nil, ok
	}
	p := s.Pool()
	if p == nil {
		return nil, nil, false
	}
	backlog, more, ok := p.Follow(ctx, name)
	if !ok {
		return nil, nil, false
	}
	lines, out := s.streamLines(ctx, backlog, more)
	return lines, out, true
}

// usage measures the workload w, when its kind can.
func (s *poolStage) usage(w api.Workload) (api.Usage, bool) {
	p := s.Pool()
	if p == nil {
		return api.Usage{}, false
	}
	if st, ok := p.Status(w.Name); !ok || st.Kind != w.Kind {
		return api.Usage{}, false
	}
	u, ok := p.Usage(w.Name)
	if !ok {
		return api.Usage{}, false
	}
	return api.Usage{CPU: u.CPU.Seconds(), Memory: u.Memory}, true
}

// streamLines turns a workload's output into numbered lines: the
// backlog's complete lines now, then every later line as it is
// completed, until ctx ends or the output does (the pool carries the
// stream on across restarts).
func (s *poolStage) streamLines(ctx context.Context, backlog []byte, more <-chan []byte) ([]api.LogLine, <-chan api.LogLine) {
	lines := textLines(backlog)
	// An unfinished last line is not sent yet: its end is still to come.
	var partial []byte
	if n := len(backlog); n > 0 && backlog[n-1] != '\n' && len(lines) > 0 {
		lines = lines[:len(lines)-1]
		if i := bytes.LastIndexByte(backlog, '\n'); i >= 0 {
			partial = append(partial, backlog[i+1:]...)
		} else {
			partial = append(partial, backlog...)
		}
	}
	seq := uint64(len(lines))
	out := make(chan api.LogLine, 64)
	s.lg.goSafe("api log", func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case b, ok := <-more:
				if !ok {
					return
				}
				for _, l := range newLines(&partial, b) {
					seq++
					select {
					case out <- api.LogLine{Seq: seq, Time: s.now(), Text: strings.TrimRight(l, "\r")}:
					case <-ctx.Done():
						return
					}
				}
			}
		}
	})
	return lines, out
}

// apiWorkload is a workload as the API lists it.
func apiWorkload(st workload.Status) api.Workload {
	w := api.Workload{
		Kind: st.Kind, Name: st.Name, State: string(st.State), PID: st.PID, Started: st.Started,
		Restarts: st.Restarts, LastError: st.LastError, LastErrorAt: st.LastErrorAt,
		Addresses: st.Addresses, Held: st.Held, Details: map[string]string{},
	}
	for _, l := range st.Leases {
		w.Leases = append(w.Leases, apiLease(l))
	}
	for k, v := range st.Details {
		w.Details[k] = v
	}
	if st.LastExit != "" {
		w.Details["last_exit"] = st.LastExit
	}
	if !st.NextStart.IsZero() {
		w.Details["next_start"] = st.NextStart.UTC().Format(time.RFC3339)
	}
	if st.StartupTime > 0 {
		w.Details["startup_ms"] = strconv.FormatInt(st.StartupTime.Milliseconds(), 10)
	}
	if len(w.Details) == 0 {
		w.Details = nil
	}
	w.Limits = st.Limits
	return w
}

// summaryOf is a workload of either kind as the ready line shows it: a
// workload that does not run says why.
func summaryOf(st workload.Status) ContainerSummary {
	s := ContainerSummary{Name: st.Name, State: string(st.State), PID: st.PID,
		StartMS: st.StartupTime.Milliseconds(), Restarts: st.Restarts}
	if st.State != workload.StateRunning {
		s.Error = st.LastError
	}
	return s
}

// guestSummary is a VM in the ready summary.
func guestSummary(st workload.Status) GuestSummary {
	s := summaryOf(st)
	return GuestSummary{Name: s.Name, State: s.State, Accel: st.Details["accel"], PID: s.PID,
		StartMS: s.StartMS, Restarts: s.Restarts, Error: s.Error}
}

var (
	_ workloadStage = (*vmsStage)(nil)
	_ workloadStage = (*containersStage)(nil)
)
