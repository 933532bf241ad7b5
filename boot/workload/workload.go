package workload

import (
	"context"
	"errors"
	"io"
	"time"
)

// Workload is one VM or container, which the pool runs one run at a
// time: Start, then Done once the run ended, then Start again for a
// restart. Its methods are safe for concurrent use; a Stop may come while
// a Start is under way.
type Workload interface {
	// Start begins a run and returns once it runs, or with the error
	// that kept it from running (the run is then over: Done is closed).
	// ctx cancels the start, not the run.
	Start(ctx context.Context) error
	// Done is closed when the current run has ended: on its own, by
	// Stop, or by a failed start.
	Done() <-chan struct{}
	// Err is why the last run ended: nil for exit status 0 or a Stop.
	Err() error
	// Stop ends the current run the way the kind does it (ACPI, quit,
	// kill; SIGTERM, SIGKILL), ctx bounding its gentle part, and returns
	// once it ended. On a workload that does not run it changes nothing,
	// but ends console sessions.
	Stop(ctx context.Context) error
	// Status is the workload as its runs left it; the pool adds the
	// name, kind, restarts, backoff and held state.
	Status() Status
	// Logs is the tail of the workload's output across its runs: a
	// container's log, a VM's serial console.
	Logs() []byte
	// Follow returns the tail and a channel of the later output, until
	// cancel; the channel is closed when the follower falls too far
	// behind or the workload is closed.
	Follow() (backlog []byte, more <-chan []byte, cancel func())
}

// Consoler is a Workload with an interactive console (a VM's serial
// port).
type Consoler interface {
	// OpenConsole returns ErrNotRunning when no run is under way.
	OpenConsole() (io.ReadWriteCloser, error)
}

// Screener is a Workload with a screen (a VM's VNC display).
type Screener interface {
	// OpenVNC returns ErrNotRunning when no run is under way and
	// ErrNoDisplay when the workload has no screen.
	OpenVNC() (io.ReadWriteCloser, error)
}

// Usage is a workload's resource use.
type Usage struct {
	CPU    time.Duration
	Memory int64
}

// Meter is a Workload that measures its own resource use (a
// container's cgroup).
type Meter interface {
	Usage() (Usage, error)
}

// Noter is a Workload whose log takes the pool's notes on it, such as
// "restarting in 2s".
type Noter interface {
	Note(text string)
}

// A Workload that is an io.Closer is closed once the pool drops it (left
// the config, replaced by a changed spec, shutdown), after its last stop.

// Errors of the pool's lookups.
var (
	// ErrUnknown is returned for a name that is not in the pool.
	ErrUnknown = errors.New("no such workload")
	// ErrNotRunning is returned for a console of a workload that does
	// not run.
	ErrNotRunning = errors.New("the workload is not running")
	// ErrNoConsole is returned for a console of a workload without one.
	ErrNoConsole = errors.New("the workload has no console")
	// ErrNoDisplay is returned for the screen of a workload without one.
	ErrNoDisplay = errors.New("the workload has no display")
	// ErrHeld is wrapped by the refusal to start a workload whose Want
	// has a Hold.
	ErrHeld = errors.New("held")
)

// Action is a start, stop or restart request.
type Action string

// Actions. Stop stops a workload and holds it stopped (its policy does
// not restart it, nor does an apply of the same spec) until Start;
// Restart stops it if it runs and starts it, and counts as a restart.
const (
	Start   Action = "start"
	Stop    Action = "stop"
	Restart Action = "restart"
)

// Want is one workload of the desired state.
type Want struct {
	Name string
	// Key is the workload's spec: an Apply whose Key is
	// reflect.DeepEqual to the running one's leaves it untouched; any
	// other Key replaces it.
	Key    any
	Policy Policy
	// New makes the workload; it runs nothing. It is called once per
	// Key, not per run.
	New func() (Workload, error)
	// Err, when set, is why the workload cannot run: it is listed as
	// failed with it, and New is not called.
	Err error
	// Hold, when set, is why the workload must not run now (its files
	// are on a data partition that is not mounted): it is listed as
	// stopped and held with Hold as its last error, New is not called,
	// and a start request is refused with it. An apply without Hold
	// runs it.
	Hold string
	// Details are shown for a workload that cannot run (its image).
	Details map[string]string
}
