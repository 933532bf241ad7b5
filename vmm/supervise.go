package vmm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/digitalocean/go-qemu/qmp"

	"github.com/nucbox/nucbox/internal/cgroup"
)

// Options tune a Guest. The zero value is usable: QEMU and qemu-img from
// PATH, plain os/exec, DefaultBackoff, the host's KVM probe.
type Options struct {
	// QEMU is the qemu-system-x86_64 binary: a path, or a name looked up
	// in $PATH and then in the usual bin directories.
	QEMU string
	// QemuImg runs qemu-img; its Procs defaults to Options.Procs.
	QemuImg QemuImg
	// Procs starts and waits for child processes; PID 1 supplies one that
	// keeps its reaper away from them (see Procs).
	Procs Procs
	// Log receives the guest's lifecycle events; a "vm" attribute is added.
	Log *slog.Logger
	// Backoff spaces restarts.
	Backoff Backoff
	// KVM probes the accelerator; tests fake it.
	KVM KVMProbe
	// Host reports the box's memory and free ports for Preflight.
	Host func() Host
	// QMPTimeout bounds every QMP command (default 10s).
	QMPTimeout time.Duration
	// StartTimeout bounds preparing disks and QEMU's start up to QMP
	// "running" (default 2m; growing a large raw disk is the slow part).
	StartTimeout time.Duration
	// QuitTimeout is how long QEMU gets to exit after QMP quit before it
	// is killed (default 10s).
	QuitTimeout time.Duration
	// SerialRing is how much console output Serial keeps (default 64 KiB).
	SerialRing int
	// SerialLogMax rotates serial.log beyond this size (default 16 MiB).
	SerialLogMax int64
	// CgroupRoot is where the cgroup v2 hierarchy is mounted, for guests
	// whose Spec names a Cgroup (default /sys/fs/cgroup).
	CgroupRoot string
	// SerialBuffer, when set, is the ring that keeps the console's tail
	// (SerialRing is then unused): a guest that replaces another one of
	// the same VM (stopped, then started again) passes the old one's
	// SerialBuffer, so that the console history and its followers carry
	// over.
	SerialBuffer *Ring
}

func (o Options) withDefaults() Options {
	if o.QEMU == "" {
		o.QEMU = "qemu-system-x86_64"
	}
	if o.Procs == nil {
		o.Procs = ExecProcs{}
	}
	if o.QemuImg.Procs == nil {
		o.QemuImg.Procs = o.Procs
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Backoff == (Backoff{}) {
		o.Backoff = DefaultBackoff
	}
	if o.KVM == nil {
		o.KVM = HostKVM
	}
	if o.Host == nil {
		o.Host = HostFacts
	}
	if o.QMPTimeout == 0 {
		o.QMPTimeout = 10 * time.Second
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 2 * time.Minute
	}
	if o.QuitTimeout == 0 {
		o.QuitTimeout = 10 * time.Second
	}
	if o.SerialRing == 0 {
		o.SerialRing = 64 << 10
	}
	if o.SerialLogMax == 0 {
		o.SerialLogMax = 16 << 20
	}
	if o.CgroupRoot == "" {
		o.CgroupRoot = cgroup.Mount
	}
	return o
}

// Guest runs one VM: it starts QEMU, keeps it running according to the
// VM's restart policy, and shuts it down like a host would. All methods
// are safe for concurrent use.
type Guest struct {
	spec Spec
	opts Options
	log  *slog.Logger
	ring *Ring

	mu      sync.Mutex
	st      Status
	cur     *proc
	started bool
	stopCtx context.Context

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// NewGuest returns a guest for s; nothing runs until Start.
func NewGuest(s Spec, opts Options) *Guest {
	opts = opts.withDefaults()
	ring := opts.SerialBuffer
	if ring == nil {
		ring = NewRing(opts.SerialRing)
	}
	return &Guest{
		spec: s,
		opts: opts,
		log:  opts.Log.With("vm", s.Name),
		ring: ring,
		st:   Status{Name: s.Name, State: StateStopped, VNCPort: s.VNCPort()},
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
}

// Spec returns the spec the guest was made from.
func (g *Guest) Spec() Spec { return g.spec }

// Start starts supervising the guest and waits until its first QEMU runs
// (QMP reports "running") or that first start failed. A failed first
// start is returned, and retried in the background when the restart
// policy allows; a config that cannot work (Check) is not retried. ctx
// bounds only the wait, not the guest's life.
func (g *Guest) Start(ctx context.Context) error {
	g.mu.Lock()
	if g.started {
		g.mu.Unlock()
		return errors.New("guest already started")
	}
	g.started = true
	g.mu.Unlock()
	if errs := Check(g.spec); len(errs) > 0 {
		err := errors.Join(errs...)
		g.update(func(st *Status) { st.State, st.LastError, st.LastErrorAt = StateFailed, err.Error(), time.Now() })
		g.log.Error("VM config cannot work", "err", err)
		close(g.done)
		return err
	}
	first := make(chan error, 1)
	go g.supervise(first)
	select {
	case err := <-first:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop ends supervision and shuts the guest down: ACPI powerdown, up to
// the VM's shutdown-timeout (or until ctx ends, if sooner) for the guest
// to power off; then QMP quit, then SIGKILL. It returns once QEMU is gone.
func (g *Guest) Stop(ctx context.Context) error {
	g.mu.Lock()
	g.stopCtx = ctx
	if !g.started {
		g.started = true
		close(g.done)
	}
	g.mu.Unlock()
	g.stopOnce.Do(func() { close(g.stop) })
	<-g.done
	if st := g.Status(); st.PID != 0 {
		return fmt.Errorf("QEMU pid %d did not exit after SIGKILL", st.PID)
	}
	return nil
}

// Done is closed when supervision has ended: after Stop, or when the
// guest ended and its policy does not restart it.
func (g *Guest) Done() <-chan struct{} { return g.done }

// Status returns the guest's current status.
func (g *Guest) Status() Status {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.st
	st.Warnings = append([]string(nil), g.st.Warnings...)
	if st.PID != 0 && !st.Started.IsZero() {
		st.Uptime = time.Since(st.Started).Round(time.Millisecond)
	}
	return st
}

// Serial returns the tail of the guest's serial console, across restarts.
func (g *Guest) Serial() []byte { return g.ring.Bytes() }

// SerialBuffer is the ring that keeps the console's tail; see
// Options.SerialBuffer.
func (g *Guest) SerialBuffer() *Ring { return g.ring }

// FollowSerial returns the console's tail and a channel of its later
// output (see Ring.Follow); cancel ends it.
func (g *Guest) FollowSerial() (backlog []byte, more <-chan []byte, cancel func()) {
	return g.ring.Follow()
}

// QMP runs a command on the running QEMU and decodes its return value
// into out (which may be nil).
func (g *Guest) QMP(ctx context.Context, command string, args, out any) error {
	g.mu.Lock()
	p := g.cur
	g.mu.Unlock()
	if p == nil || p.mon == nil {
		return errors.New("guest is not running")
	}
	return p.mon.run(ctx, command, args, out)
}

func (g *Guest) update(f func(*Status)) {
	g.mu.Lock()
	f(&g.st)
	g.mu.Unlock()
}

func (g *Guest) stopRequested() bool {
	select {
	case <-g.stop:
		return true
	default:
		return false
	}
}

func (g *Guest) supervise(first chan<- error) {
	defer close(g.done)
	failures := 0
	policy := g.spec.Restart
	// The first start's failure is handed to Start only once the state
	// says what follows (failed, or backoff before a retry), so that a
	// caller reading Status right after Start sees that, not "starting".
	answer := func(err error) {
		if first != nil {
			first <- err
			first = nil
		}
	}
	for {
		p, err := g.startOnce()
		if err == nil {
			answer(nil)
		}
		exitErr := err
		var ran time.Duration
		if err != nil {
			g.log.Error("VM start failed", "err", err)
			g.update(func(st *Status) { st.LastError, st.LastErrorAt = err.Error(), time.Now() })
		} else {
			select {
			case <-p.exited:
			case <-g.stop:
				g.shutdown(p)
				return
			}
			ran = time.Since(p.start)
			exitErr = p.waitErr
			g.exited(p)
		}
		if g.stopRequested() {
			g.update(func(st *Status) { st.State = StateStopped })
			answer(err)
			return
		}
		if !shouldRestart(policy, exitErr) {
			g.update(func(st *Status) {
				st.State = StateFailed
				if exitErr == nil {
					st.State = StateStopped
				}
			})
			answer(err)
			g.log.Info("VM not restarted", "policy", policy, "state", g.Status().State)
			return
		}
		failures = g.opts.Backoff.Failures(failures, ran)
		delay := g.opts.Backoff.Delay(failures)
		g.update(func(st *Status) { st.State, st.NextStart = StateBackoff, time.Now().Add(delay) })
		answer(err)
		g.log.Info("VM restarting", "in", delay, "consecutive-failures", failures)
		select {
		case <-time.After(delay):
		case <-g.stop:
			g.update(func(st *Status) { st.State, st.NextStart = StateStopped, time.Time{} })
			return
		}
		g.update(func(st *Status) { st.Restarts++; st.NextStart = time.Time{} })
	}
}

// exited records a QEMU that ended on its own.
func (g *Guest) exited(p *proc) {
	how := describeExit(p.waitErr)
	msg := strings.TrimSpace(string(p.stderr.Bytes()))
	p.mon.close()
	g.mu.Lock()
	g.cur = nil
	g.st.PID, g.st.LastExit, g.st.QMPStatus = 0, how, ""
	if p.waitErr != nil {
		g.st.LastErrorAt = time.Now()
		g.st.LastError = "QEMU " + how
		if msg != "" {
			g.st.LastError += ": " + lastLine(msg)
		}
	}
	g.mu.Unlock()
	os.Remove(g.spec.Paths().PID)
	g.log.Warn("QEMU exited", "how", how, "ran", time.Since(p.start).Round(time.Millisecond))
}

// startOnce prepares the guest's files, starts QEMU paused, checks it
// through QMP and lets the CPUs run.
func (g *Guest) startOnce() (*proc, error) {
	start := time.Now()
	g.update(func(st *Status) { st.State = StateStarting })
	s := g.spec
	choice, err := ChooseAccel(s.AccelMode, g.opts.KVM)
	if err != nil {
		return nil, err
	}
	s.Accel = choice.Accel
	g.mu.Lock()
	if g.st.AccelReason != choice.Reason {
		g.log.Info("accelerator chosen", "accel", choice.Accel, "reason", choice.Reason)
	}
	g.st.Accel, g.st.AccelReason = choice.Accel, choice.Reason
	g.mu.Unlock()

	if errs := Preflight(s, g.opts.Host()); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	paths := s.Paths()
	if err := os.MkdirAll(paths.Dir, 0o750); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.opts.StartTimeout)
	defer cancel()
	go func() {
		// Stop during a slow start must not wait for the start to finish.
		select {
		case <-g.stop:
			cancel()
		case <-ctx.Done():
		}
	}()

	var warnings []string
	if w := StateDirWarning(s.StateDir); w != "" {
		warnings = append(warnings, w)
	}
	w, err := PrepareDisks(ctx, g.opts.QemuImg, s.Disks)
	warnings = append(warnings, w...)
	g.mu.Lock()
	// Logged when they change, not at every restart of a crash loop.
	if !slices.Equal(warnings, g.st.Warnings) {
		for _, w := range warnings {
			g.log.Warn(w)
		}
	}
	g.st.Warnings = warnings
	g.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if s.CloudInit != nil {
		files, err := SeedFiles(s)
		if err != nil {
			return nil, err
		}
		if err := WriteSeed(paths.Seed, files); err != nil {
			return nil, err
		}
	}
	args, err := Cmdline(s)
	if err != nil {
		return nil, err
	}
	// A socket left by a QEMU that died would accept nothing; QEMU
	// replaces it, but only once it gets there, and until then a dial
	// would fail with ECONNREFUSED rather than wait.
	os.Remove(paths.QMP)

	p, err := g.exec(args, choice.Accel)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*proc, error) {
		if p.mon != nil {
			p.mon.close()
		}
		p.cmd.Process.Kill()
		<-p.exited
		os.Remove(paths.PID)
		if msg := strings.TrimSpace(string(p.stderr.Bytes())); msg != "" {
			err = fmt.Errorf("%w; QEMU said: %s", err, lastLine(msg))
		}
		return nil, err
	}
	mon, err := dialQMP(ctx, paths.QMP, p.exited, g.opts.QMPTimeout, g.onEvent)
	if err != nil {
		return fail(err)
	}
	p.mon = mon
	// -S leaves QEMU in "prelaunch"; anything else means it is not the
	// paused, fresh QEMU this code started.
	if st, err := mon.status(ctx); err != nil {
		return fail(err)
	} else if st != "prelaunch" {
		return fail(fmt.Errorf("QEMU is %q after start, want prelaunch", st))
	}
	if err := mon.run(ctx, "cont", nil, nil); err != nil {
		return fail(err)
	}
	st, err := mon.status(ctx)
	if err != nil {
		return fail(err)
	}
	if st != "running" {
		return fail(fmt.Errorf("QEMU is %q after cont, want running", st))
	}
	took := time.Since(p.start)
	g.mu.Lock()
	g.cur = p
	g.st.State, g.st.PID, g.st.Started = StateRunning, p.cmd.Process.Pid, p.start
	g.st.StartupTime, g.st.QMPStatus, g.st.QEMUVersion = took, st, mon.Version
	g.st.StoppedBy = ""
	g.mu.Unlock()
	g.log.Info("VM running", "pid", p.cmd.Process.Pid, "accel", choice.Accel,
		"qemu-to-running", took.Round(time.Millisecond), "prepare", p.start.Sub(start).Round(time.Millisecond))
	return p, nil
}

// onEvent keeps the QMP status current between queries.
func (g *Guest) onEvent(e qmp.Event) {
	status := map[string]string{
		"RESUME":         "running",
		"STOP":           "paused",
		"SHUTDOWN":       "shutdown",
		"GUEST_PANICKED": "guest-panicked",
	}[e.Event]
	if status != "" {
		g.update(func(st *Status) { st.QMPStatus = status })
	}
	switch e.Event {
	case "RESUME", "STOP":
		g.log.Debug("QMP event", "event", e.Event)
	default:
		g.log.Info("QMP event", "event", e.Event, "data", e.Data)
	}
}
