package containers

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/nucbox/nucbox/vmm"
)

// Container states in Status.
const (
	StatePulling  = "pulling"
	StateStarting = "starting"
	StateRunning  = "running"
	StateBackoff  = "backoff" // waiting to restart
	StateExited   = "exited"  // ended and not restarted by its policy
	StateStopped  = "stopped" // stopped by nucbox
)

// Status is one container as the API and the console show it.
type Status struct {
	Name      string      `json:"name"`
	State     string      `json:"state"`
	Image     string      `json:"image"`
	Digest    string      `json:"digest,omitempty"`
	Pid       int         `json:"pid,omitempty"`
	Started   time.Time   `json:"started,omitzero"`
	Uptime    string      `json:"uptime,omitempty"`
	Restarts  int         `json:"restarts"`
	LastExit  string      `json:"last-exit,omitempty"`
	LastError string      `json:"last-error,omitempty"`
	Progress  *Progress   `json:"progress,omitempty"`
	NICs      []NICStatus `json:"nics,omitempty"`
	// NextStart is when a container in backoff is started again.
	NextStart time.Time `json:"next-start,omitzero"`
}

// Supervisor keeps one container running by its restart policy.
type Supervisor struct {
	r       *Runtime
	ct      Spec
	src     Source
	log     *Log
	backoff vmm.Backoff
	cancel  context.CancelFunc
	done    chan struct{}

	mu  sync.Mutex
	st  Status
	cur *Instance
}

// Supervise starts ct in the background: it fetches the image, runs the
// container, and restarts it by its policy with exponential backoff. An
// image that cannot be fetched or a process that cannot start is
// retried the same way, and reported in Status and the log, without
// affecting other containers.
func (r *Runtime) Supervise(ct Spec) (*Supervisor, error) {
	src := ct.Image
	lg, err := OpenLog(filepath.Join(r.Dir(ct.Name)+".log"), 0, 0)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Supervisor{r: r, ct: ct, src: src, log: lg, backoff: r.backoff(), cancel: cancel, done: make(chan struct{}),
		st: Status{Name: ct.Name, State: StatePulling, Image: src.String()}}
	go s.run(ctx)
	return s, nil
}

func (r *Runtime) backoff() vmm.Backoff {
	if r.o.Backoff != (vmm.Backoff{}) {
		return r.o.Backoff
	}
	return vmm.DefaultBackoff
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

// Logs is the tail of the container's output and nucbox's notes on it.
func (s *Supervisor) Logs() []byte { return s.log.Tail() }

// Instance is the current run, nil when none is running.
func (s *Supervisor) Instance() *Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Stop ends the container (SIGTERM, SIGKILL after the stop timeout) and
// the supervision, and waits for both.
func (s *Supervisor) Stop() {
	s.cancel()
	<-s.done
}

func (s *Supervisor) set(f func(st *Status)) {
	s.mu.Lock()
	f(&s.st)
	s.mu.Unlock()
}

func (s *Supervisor) fail(err error) {
	s.log.Printf("error: %v", err)
	s.r.log.Warn("container failed", "container", s.ct.Name, "err", err)
	s.set(func(st *Status) { st.LastError = err.Error() })
}

func (s *Supervisor) stopTimeout() time.Duration { return s.ct.StopTimeout }

func (s *Supervisor) run(ctx context.Context) {
	defer close(s.done)
	defer s.log.Close()
	failures := 0
	fresh := true
	var img *Image
	for ctx.Err() == nil {
		var err error
		var ran time.Duration
		if img == nil {
			s.set(func(st *Status) { st.State = StatePulling })
			img, err = s.r.store.Get(ctx, s.src, func(p Progress) {
				s.set(func(st *Status) { st.Progress = &p })
			})
			s.set(func(st *Status) { st.Progress = nil })
			if img != nil {
				s.set(func(st *Status) { st.Digest = img.Digest })
			}
		}
		if err == nil {
			ran, err = s.once(ctx, img, fresh)
			fresh = false
		}
		if ctx.Err() != nil {
			break
		}
		policy := s.ct.Restart
		if err == nil && policy != vmm.RestartAlways || policy == vmm.RestartNever {
			if err != nil {
				s.fail(err)
			}
			s.set(func(st *Status) { st.State, st.Pid = StateExited, 0 })
			<-ctx.Done()
			break
		}
		if err != nil {
			s.fail(err)
		}
		// A clean exit under "always" counts too: a container that exits
		// at once must not be restarted in a tight loop.
		failures = s.backoff.Failures(failures, ran)
		delay := s.backoff.Delay(failures)
		s.log.Printf("restarting in %v", delay)
		s.set(func(st *Status) { st.State, st.Pid, st.NextStart = StateBackoff, 0, time.Now().Add(delay) })
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
		case <-t.C:
			s.set(func(st *Status) { st.Restarts++; st.NextStart = time.Time{} })
		}
		t.Stop()
	}
	s.set(func(st *Status) { st.State, st.Pid = StateStopped, 0 })
}

// once runs the container until it exits or ctx ends; it returns how
// long the process ran and why it ended (nil: exit status 0, or stopped).
func (s *Supervisor) once(ctx context.Context, img *Image, fresh bool) (time.Duration, error) {
	s.set(func(st *Status) { st.State = StateStarting })
	in, err := s.r.Create(s.ct, img, s.log, fresh)
	if err != nil {
		return 0, err
	}
	defer in.Destroy()
	if err := in.Start(ctx); err != nil {
		return 0, err
	}
	s.log.Printf("started pid %d", in.Pid())
	s.mu.Lock()
	s.cur = in
	s.st.State, s.st.Pid, s.st.Started, s.st.LastError = StateRunning, in.Pid(), in.started, ""
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.cur = nil
		s.mu.Unlock()
	}()
	exited := make(chan error, 1)
	go func() {
		_, err := in.Wait()
		exited <- err
	}()
	select {
	case err = <-exited:
	case <-ctx.Done():
		err = in.Stop(s.stopTimeout())
		if err == nil {
			err = <-exited
		}
		s.log.Printf("stopped: %s", describe(err))
		s.set(func(st *Status) { st.LastExit = describe(err) })
		return time.Since(in.started), nil
	}
	ran := time.Since(in.started)
	s.log.Printf("exited after %v: %s", ran.Round(time.Millisecond), describe(err))
	s.set(func(st *Status) { st.LastExit = describe(err) })
	return ran, err
}

func describe(err error) string {
	if err == nil {
		return "exit status 0"
	}
	if errors.Is(err, ErrExit) {
		return err.Error()[len(ErrExit.Error())+2:]
	}
	return fmt.Sprint(err)
}
