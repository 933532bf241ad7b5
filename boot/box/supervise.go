package box

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/internal/inject"
	"github.com/nucbox/nucbox/internal/safe"
)

// Stage is one step of applying the compiled config to the running
// system: modules, hostname, loopback, the network with the switch, the
// VMs and the containers. Each takes its part of d. Apply must be
// idempotent: it is called again with the same desired state when nothing
// changed and with a new one on a reload, and must then change only what
// differs.
type Stage interface {
	Name() string
	Apply(ctx context.Context, d *plan.Desired) error
}

// Stopper is implemented by stages that own running workloads; at
// shutdown they are stopped in the reverse order of their stages.
type Stopper interface {
	Stop(ctx context.Context) error
}

// Reporter is implemented by stages that contribute to the ready summary.
type Reporter interface {
	Report(s *Summary)
}

// supervisor runs the stages in order.
type supervisor struct {
	stages   []Stage
	logf     func(format string, args ...any)
	applying sync.Mutex // held for the whole of an apply

	mu      sync.Mutex
	applied []Stage
	cancel  context.CancelFunc // of the running apply
	current string             // the stage applying now, for a trial boot's timeout
}

func (s *supervisor) printf(format string, args ...any) {
	if s.logf != nil {
		s.logf(format, args...)
	}
}

// callSafe calls fn, turning a panic into its error.
func (s *supervisor) callSafe(fn func() error) error { return safe.Call(s.printf, fn) }

// ordered is the supervisor's stages in the order d gives. A name
// without a stage here is skipped and a stage d does not name runs after
// the named ones: tests run supervisors with stages of their own, while
// the box's stages are exactly those of plan.Order (TestDefaultStages).
func (s *supervisor) ordered(d *plan.Desired) []Stage {
	var out []Stage
	for _, name := range d.Order {
		for _, st := range s.stages {
			if st.Name() == name {
				out = append(out, st)
			}
		}
	}
	for _, st := range s.stages {
		if !slices.Contains(d.Order, st.Name()) {
			out = append(out, st)
		}
	}
	return out
}

// apply runs the stages in d's order, stopping at the first failure, and
// fills sum from the stages that report.
func (s *supervisor) apply(ctx context.Context, d *plan.Desired, sum *Summary) error {
	stages := s.ordered(d)
	s.applying.Lock()
	defer s.applying.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	for _, st := range stages {
		if ctx.Err() != nil {
			return &StageError{st.Name(), ctx.Err()}
		}
		t := time.Now()
		s.setCurrent(st.Name())
		err := s.callSafe(func() error {
			inject.Hang("stage."+st.Name(), s.printf)
			return st.Apply(ctx, d)
		})
		s.setCurrent("")
		if err != nil {
			return &StageError{st.Name(), err}
		}
		// applied lists the stages that ever applied, in order: a stage
		// stays in it across live applies, since its workloads run on
		// even when a later apply fails before reaching it, and shutdown
		// must still stop them.
		s.mu.Lock()
		if !slices.ContainsFunc(s.applied, func(a Stage) bool { return a.Name() == st.Name() }) {
			s.applied = append(s.applied, st)
		}
		s.mu.Unlock()
		if d := time.Since(t); d > 100*time.Millisecond {
			s.printf("%s: applied in %d ms", st.Name(), d.Milliseconds())
		}
		if r, ok := st.(Reporter); ok {
			r.Report(sum)
		}
	}
	return nil
}

func (s *supervisor) setCurrent(name string) {
	s.mu.Lock()
	s.current = name
	s.mu.Unlock()
}

// applying is the stage an apply is in, "" between applies.
func (s *supervisor) currentStage() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// stop cancels a running apply, waits (within ctx) for it to return, and
// stops the applied stages that own workloads, last first. A stage stuck
// in Apply must not keep the power button from working, hence the
// cancel and the bounded wait.
func (s *supervisor) stop(ctx context.Context) error {
	s.mu.Lock()
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	returned := make(chan struct{})
	safe.Go(s.printf, "shutdown", func() {
		s.applying.Lock()
		s.applying.Unlock()
		close(returned)
	})
	select {
	case <-returned:
	case <-ctx.Done():
		s.printf("shutdown: a stage did not return from apply; stopping without it")
	}
	s.mu.Lock()
	applied := append([]Stage(nil), s.applied...)
	s.mu.Unlock()
	var first error
	for i := len(applied) - 1; i >= 0; i-- {
		st, ok := applied[i].(Stopper)
		if !ok {
			continue
		}
		if err := s.callSafe(func() error { return st.Stop(ctx) }); err != nil {
			s.printf("%s: stop: %v", applied[i].Name(), err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}
