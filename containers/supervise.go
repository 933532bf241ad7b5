package containers

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/nucbox/nucbox/internal/cgroup"
	"github.com/nucbox/nucbox/internal/inject"
	"github.com/nucbox/nucbox/internal/safe"
)

// Container states in Status.
const (
	StatePulling  = "pulling"
	StateStarting = "starting"
	StateRunning  = "running"
	StateExited   = "exited"  // the run ended on its own
	StateStopped  = "stopped" // stopped by nucbox
)

// Status is one container as the API and the console show it.
type Status struct {
	Name   string `json:"name"`
	State  string `json:"state"`
	Image  string `json:"image"`
	Digest string `json:"digest,omitempty"`
	Pid    int    `json:"pid,omitempty"`
	// Started is when the current or last process started.
	Started time.Time `json:"started,omitzero"`
	Uptime  string    `json:"uptime,omitempty"`
	// StartupTime is the last start's time from Start (image lookup
	// included) to the process running.
	StartupTime time.Duration `json:"startup-time,omitempty"`
	LastExit    string        `json:"last-exit,omitempty"`
	// LastError is the last run's failure, cleared when a process runs
	// again; LastErrorAt is when it happened.
	LastError   string      `json:"last-error,omitempty"`
	LastErrorAt time.Time   `json:"last-error-at,omitzero"`
	Progress    *Progress   `json:"progress,omitempty"`
	NICs        []NICStatus `json:"nics,omitempty"`
}

// Supervisor runs one container, one run at a time: Start fetches the
// image (once), creates and starts the container and returns once its
// process runs; Done is closed when that run has ended, on its own or by
// Stop. Whether and when to start it again is the caller's (the box's
// workload pool). The log, the image and the writable layer carry on
// from run to run; a run after a Stop starts from a fresh writable layer,
// as a new container would.
type Supervisor struct {
	r   *Runtime
	ct  Spec
	src Source
	log *Log

	mu  sync.Mutex
	st  Status
	cur *Instance
	img *Image
	// fresh: the next run resets the writable layer.
	fresh bool
	run   *ctRun
	// hits are the limit counts of the runs that ended; cgDir is the
	// running one's cgroup, whose counts Hits adds.
	hits  cgroup.Hits
	cgDir string
}

// ctRun is one run: its start and its process's life.
type ctRun struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Supervise prepares ct, from its image source, to run: it opens its log. Nothing runs
// until Start.
func (r *Runtime) Supervise(ct Spec) (*Supervisor, error) {
	src := ct.Image
	lg, err := OpenLog(filepath.Join(r.Dir(ct.Name)+".log"), 0, 0)
	if err != nil {
		return nil, err
	}
	return &Supervisor{r: r, ct: ct, src: src, log: lg, fresh: true,
		st: Status{Name: ct.Name, State: StatePulling, Image: src.String()}}, nil
}

// Status is the container's state now.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	if st.State == StateRunning {
		st.Uptime = time.Since(st.Started).Round(time.Second).String()
		if s.cur != nil && s.cur.net != nil {
			st.NICs = s.cur.net.Status()
		}
	}
	return st
}

// Logs is the tail of the container's output and nucbox's notes on it,
// across runs.
func (s *Supervisor) Logs() []byte { return s.log.Tail() }

// Note adds a line of nucbox's own to the container's log.
func (s *Supervisor) Note(text string) { s.log.Printf("%s", text) }

// Instance is the current run, nil when none is running.
func (s *Supervisor) Instance() *Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Start runs the container once: it fetches the image the first time,
// creates the container and starts its process, and returns once the
// process runs, or with the error that kept it from running (the run is
// then over, its error in the status and the log). ctx cancels the
// start, not the run. Start may be called again once the run ended.
func (s *Supervisor) Start(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.Background())
	r := &ctRun{cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	if s.run != nil && !isClosed(s.run.done) {
		s.mu.Unlock()
		cancel()
		return errors.New("container already started")
	}
	s.run = r
	fresh := s.fresh
	s.fresh = false
	s.mu.Unlock()
	unhook := context.AfterFunc(ctx, cancel)
	defer unhook()
	began := time.Now()
	in, err := s.begin(runCtx, fresh)
	if err != nil {
		if runCtx.Err() != nil {
			s.set(func(st *Status) { st.State, st.Pid, st.Progress = StateStopped, 0, nil })
		} else {
			s.fail(err)
			s.set(func(st *Status) { st.State, st.Pid, st.Progress = StateExited, 0, nil })
			r.err = err
		}
		cancel()
		close(r.done)
		return err
	}
	s.log.Printf("started pid %d", in.Pid())
	s.mu.Lock()
	s.cur = in
	s.st.State, s.st.Pid, s.st.Started, s.st.LastError = StateRunning, in.Pid(), in.started, ""
	s.st.StartupTime = time.Since(began)
	s.cgDir, _ = in.CgroupDir()
	s.mu.Unlock()
	logf := s.r.logf()
	safe.Go(logf, s.ct.Name+": supervision", func() {
		defer close(r.done)
		defer r.cancel()
		exited := make(chan struct{})
		var werr error
		safe.Go(logf, s.ct.Name+": wait", func() {
			defer close(exited)
			_, werr = in.Wait()
		})
		// A panic in the supervision restarts it: it waits again for the
		// process's end, and Stop still finds someone to stop it.
		safe.Run(context.Background(), logf, s.ct.Name+": supervision", safe.DefaultBackoff, func(context.Context) error {
			s.wait(runCtx, r, in, exited, &werr)
			return nil
		})
	})
	return nil
}

// begin fetches the image if needed, creates the container and starts
// its process.
func (s *Supervisor) begin(ctx context.Context, fresh bool) (*Instance, error) {
	if err := s.r.rootErr; err != nil {
		return nil, err // before a pull that would be for nothing
	}
	s.mu.Lock()
	img := s.img
	s.mu.Unlock()
	if img == nil {
		s.set(func(st *Status) { st.State = StatePulling })
		var err error
		// A panic in the pull or the unpacking (input from any
		// registry) is an error of this start, retried like the others.
		err = safe.Call(s.r.logf(), func() (err error) {
			inject.Point("container.pull")
			img, err = s.r.store.Get(ctx, s.src, func(p Progress) {
				s.set(func(st *Status) { st.Progress = &p })
			})
			return err
		})
		s.set(func(st *Status) { st.Progress = nil })
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.img, s.st.Digest = img, img.Digest
		s.mu.Unlock()
	}
	s.set(func(st *Status) { st.State = StateStarting })
	in, err := s.r.Create(s.ct, img, s.log, fresh)
	if err != nil {
		return nil, err
	}
	if err := in.Start(ctx); err != nil {
		in.Destroy()
		return nil, err
	}
	return in, nil
}

// wait waits for the end of run r: the process exits, or Stop ends it
// (SIGTERM, SIGKILL after the stop timeout).
func (s *Supervisor) wait(ctx context.Context, r *ctRun, in *Instance, exited <-chan struct{}, werr *error) {
	inject.Point("container.supervise")
	var err error
	state := StateExited
	select {
	case <-exited:
		err = *werr
		s.log.Printf("exited after %v: %s", time.Since(in.started).Round(time.Millisecond), describe(err))
		s.set(func(st *Status) { st.LastExit = describe(err) })
	case <-ctx.Done():
		how := in.Stop(s.stopTimeout())
		if how == nil {
			<-exited
			how = *werr
		}
		s.log.Printf("stopped: %s", describe(how))
		s.set(func(st *Status) { st.LastExit = describe(how) })
		state = StateStopped
	}
	s.endHits()
	in.Destroy()
	s.mu.Lock()
	s.cur = nil
	s.mu.Unlock()
	if err != nil {
		s.fail(err)
	}
	s.set(func(st *Status) { st.State, st.Pid = state, 0 })
	r.err = err
}

// Stop ends the running container (SIGTERM, SIGKILL after the stop
// timeout) and waits for its end, or for ctx; the next run starts from a
// fresh writable layer. On a container that does not run it changes
// nothing else.
func (s *Supervisor) Stop(ctx context.Context) error {
	s.mu.Lock()
	r := s.run
	s.fresh = true
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	r.cancel()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when the current run has ended (and before the first).
func (s *Supervisor) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return s.run.done
}

// Err is why the last run ended: what kept it from starting, or the
// process's exit when it was not 0. It is nil for exit status 0 and for
// a run ended by Stop.
func (s *Supervisor) Err() error {
	s.mu.Lock()
	r := s.run
	s.mu.Unlock()
	if r == nil || !isClosed(r.done) {
		return nil
	}
	return r.err
}

// Close closes the log, which ends its followers. The container must not
// run.
func (s *Supervisor) Close() error { return s.log.Close() }

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (s *Supervisor) set(f func(st *Status)) {
	s.mu.Lock()
	f(&s.st)
	s.mu.Unlock()
}

func (s *Supervisor) fail(err error) {
	s.log.Printf("error: %v", err)
	s.r.log.Warn("container failed", "container", s.ct.Name, "err", err)
	s.set(func(st *Status) { st.LastError, st.LastErrorAt = err.Error(), time.Now() })
}

func (s *Supervisor) stopTimeout() time.Duration { return s.ct.StopTimeout }

func describe(err error) string {
	if err == nil {
		return "exit status 0"
	}
	if errors.Is(err, ErrExit) {
		return err.Error()[len(ErrExit.Error())+2:]
	}
	return fmt.Sprint(err)
}
