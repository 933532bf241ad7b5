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
	"github.com/nucbox/nucbox/internal/inject"
	"github.com/nucbox/nucbox/internal/safe"
)

// Options tune a Guest. The zero value is usable: QEMU and qemu-img from
// PATH, plain os/exec, the host's KVM probe.
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
	// OpenTAP attaches to a TAP for a guest with a User (default
	// OpenTAP, in the calling thread's network namespace); tests open
	// TAPs in a namespace of their own.
	OpenTAP func(name string) (*os.File, error)
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
	if o.OpenTAP == nil {
		o.OpenTAP = OpenTAP
	}
	return o
}

// Guest runs one VM, one run at a time: Start starts QEMU and returns
// once it runs; Done is closed when that QEMU has ended, on its own or by
// Stop, which shuts it down like a host would. Whether and when to start
// it again is the caller's (the box's workload pool); the serial console
// and the status carry on from run to run. All methods are safe for
// concurrent use.
type Guest struct {
	spec Spec
	opts Options
	log  *slog.Logger
	ring *Ring

	mu  sync.Mutex
	st  Status
	cur *proc
	run *run
	// halt is closed by Stop: console sessions end with it.
	halt     chan struct{}
	halted   bool
	everDone chan struct{} // Done before the first run: closed
	// hits are the limit counts of the runs that ended; cgLive is set
	// while QEMU runs in its cgroup, whose counts Hits adds.
	hits   cgroup.Hits
	cgLive bool
}

// run is one start of QEMU and its life until it ended.
type run struct {
	stop     chan struct{}
	stopOnce sync.Once
	stopCtx  context.Context
	done     chan struct{}
	err      error
}

func (r *run) stopRequested() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// NewGuest returns a guest for s; nothing runs until Start.
func NewGuest(s Spec, opts Options) *Guest {
	opts = opts.withDefaults()
	ring := opts.SerialBuffer
	if ring == nil {
		ring = NewRing(opts.SerialRing)
	}
	closed := make(chan struct{})
	close(closed)
	return &Guest{
		spec:     s,
		opts:     opts,
		log:      opts.Log.With("vm", s.Name),
		ring:     ring,
		st:       Status{Name: s.Name, State: StateStopped, Display: s.HasDisplay()},
		halt:     make(chan struct{}),
		everDone: closed,
	}
}

// Spec returns the spec the guest was made from.
func (g *Guest) Spec() Spec { return g.spec }

// Start runs the guest: it prepares its files, starts QEMU paused,
// checks it through QMP and lets its CPUs run. It returns once QMP
// reports "running", or with the error that kept it from running; the
// run is then over (Done is closed) and its state failed. A config that
// cannot work (Check) starts nothing. ctx cancels the start, not the
// run. Start may be called again once the previous run ended.
func (g *Guest) Start(ctx context.Context) error {
	r := &run{stop: make(chan struct{}), done: make(chan struct{})}
	g.mu.Lock()
	if g.run != nil && !closedChan(g.run.done) {
		g.mu.Unlock()
		return errors.New("guest already started")
	}
	g.run = r
	if g.halted {
		g.halt, g.halted = make(chan struct{}), false
	}
	g.mu.Unlock()
	if errs := Check(g.spec); len(errs) > 0 {
		err := errors.Join(errs...)
		g.log.Error("VM config cannot work", "err", err)
		g.failed(r, err, false)
		return err
	}
	if err := ctx.Err(); err != nil {
		g.failed(r, err, true)
		return err
	}
	p, err := g.startOnce(ctx, r)
	if err != nil {
		cancelled := ctx.Err() != nil || r.stopRequested()
		if !cancelled {
			g.log.Error("VM start failed", "err", err)
		}
		g.failed(r, err, cancelled)
		return err
	}
	// The supervision of a run outlives a panic in it: it waits again
	// for QEMU's end, and Stop still finds someone to stop QEMU.
	logf := safe.Slog(g.log)
	safe.Go(logf, g.spec.Name+": supervision", func() {
		defer close(r.done)
		safe.Run(context.Background(), logf, g.spec.Name+": supervision", safe.DefaultBackoff, func(context.Context) error {
			g.wait(r, p)
			return nil
		})
	})
	return nil
}

// failed ends run r, whose start failed with err; a start cancelled by
// Stop or by its context leaves the guest stopped, not failed.
func (g *Guest) failed(r *run, err error, cancelled bool) {
	g.update(func(st *Status) {
		if cancelled {
			st.State = StateStopped
			return
		}
		st.State, st.LastError, st.LastErrorAt = StateFailed, err.Error(), time.Now()
	})
	r.err = err
	close(r.done)
}

// wait waits for the end of run r: QEMU exits on its own, or Stop shuts
// it down.
func (g *Guest) wait(r *run, p *proc) {
	inject.Point("vm.supervise")
	select {
	case <-p.exited:
		r.err = g.exited(p)
	case <-r.stop:
		g.mu.Lock()
		ctx := r.stopCtx
		g.mu.Unlock()
		g.shutdown(ctx, p)
	}
}

// Stop shuts the running guest down: ACPI powerdown, up to the VM's
// shutdown-timeout (or until ctx ends, if sooner) for the guest to power
// off; then QMP quit, then SIGKILL. It returns once QEMU is gone. A stop
// during a start cancels the start. On a guest that does not run it
// changes nothing but ends its console sessions.
func (g *Guest) Stop(ctx context.Context) error {
	g.mu.Lock()
	r := g.run
	if !g.halted {
		close(g.halt)
		g.halted = true
	}
	if r != nil && r.stopCtx == nil {
		r.stopCtx = ctx
	}
	g.mu.Unlock()
	if r == nil {
		return nil
	}
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
	if st := g.Status(); st.PID != 0 {
		return fmt.Errorf("QEMU pid %d did not exit after SIGKILL", st.PID)
	}
	return nil
}

// Done is closed when the current run has ended (and before the first).
func (g *Guest) Done() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.run == nil {
		return g.everDone
	}
	return g.run.done
}

// Err is why the last run ended: what kept it from starting, or QEMU's
// exit status when it was not 0. It is nil for a guest that powered
// itself off (QEMU exits 0) and for a run ended by Stop.
func (g *Guest) Err() error {
	g.mu.Lock()
	r := g.run
	g.mu.Unlock()
	if r == nil || !closedChan(r.done) {
		return nil
	}
	return r.err
}

func closedChan(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

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

// Serial returns the tail of the guest's serial console, across runs.
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

// exited records a QEMU that ended on its own and returns the run's
// error: nil for exit status 0, the guest having powered itself off.
func (g *Guest) exited(p *proc) error {
	how := describeExit(p.waitErr)
	msg := strings.TrimSpace(string(p.stderr.Bytes()))
	p.mon.close()
	var err error
	g.mu.Lock()
	g.cur = nil
	g.st.State, g.st.PID, g.st.LastExit, g.st.QMPStatus = StateStopped, 0, how, ""
	if p.waitErr != nil {
		g.st.State = StateFailed
		g.st.LastErrorAt = time.Now()
		g.st.LastError = "QEMU " + how
		if msg != "" {
			g.st.LastError += ": " + lastLine(msg)
		}
		err = fmt.Errorf("%s: %w", g.st.LastError, p.waitErr)
	}
	g.mu.Unlock()
	os.Remove(g.spec.Paths().PID)
	g.log.Warn("QEMU exited", "how", how, "ran", time.Since(p.start).Round(time.Millisecond))
	return err
}

// startOnce prepares the guest's files, starts QEMU paused, checks it
// through QMP and lets the CPUs run.
func (g *Guest) startOnce(startCtx context.Context, r *run) (*proc, error) {
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
	ctx, cancel := context.WithTimeout(startCtx, g.opts.StartTimeout)
	defer cancel()
	safe.Go(safe.Slog(g.log), s.Name+": start", func() {
		// Stop during a slow start must not wait for the start to finish.
		select {
		case <-r.stop:
			cancel()
		case <-ctx.Done():
		}
	})

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
	if s.User != nil {
		if err := grantFiles(s, s.User); err != nil {
			return nil, err
		}
	}
	// A socket left by a QEMU that died would accept nothing; QEMU
	// replaces it, but only once it gets there, and until then a dial
	// would fail with ECONNREFUSED rather than wait.
	os.Remove(paths.QMP)
	if s.HasDisplay() {
		if err := screenDir(paths, s.User); err != nil {
			return nil, fmt.Errorf("screen: %w", err)
		}
	}

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
	var events eventState
	mon, err := dialQMP(ctx, paths.QMP, p.exited, g.opts.QMPTimeout, func(e qmp.Event) {
		events.saw(e)
		g.onEvent(e)
	})
	if err != nil {
		return fail(err)
	}
	p.mon = mon
	// The QEMU at the socket must be the paused, fresh one just started
	// (-S): its process, not one left by an earlier run. The kernel
	// says who listens (no QMP round trip before the guest starts). A
	// socket nucbox made itself, for a QEMU under its own user, was
	// handed to this QEMU alone.
	if s.User == nil {
		if err := checkPeer(mon.conn, p.cmd.Process.Pid); err != nil {
			return fail(fmt.Errorf("QMP socket %s: %w", paths.QMP, err))
		}
	}
	if err := mon.run(ctx, "cont", nil, nil); err != nil {
		return fail(err)
	}
	// QEMU sends RESUME before cont's reply, and the reader hands events
	// over in order: a RESUME seen by now is the state query-status would
	// report. Without one (an older or other QEMU), ask.
	st := events.last()
	if st != "running" {
		if st, err = mon.status(ctx); err != nil {
			return fail(err)
		}
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

// eventStatus is the run state an event announces, "" for other events.
func eventStatus(event string) string {
	return map[string]string{
		"RESUME":         "running",
		"STOP":           "paused",
		"SHUTDOWN":       "shutdown",
		"GUEST_PANICKED": "guest-panicked",
	}[event]
}

// eventState is the run state the events of one QMP connection announced
// last.
type eventState struct {
	mu    sync.Mutex
	state string
}

func (es *eventState) saw(e qmp.Event) {
	if st := eventStatus(e.Event); st != "" {
		es.mu.Lock()
		es.state = st
		es.mu.Unlock()
	}
}

func (es *eventState) last() string {
	es.mu.Lock()
	defer es.mu.Unlock()
	return es.state
}

// onEvent keeps the QMP status current between queries.
func (g *Guest) onEvent(e qmp.Event) {
	status := eventStatus(e.Event)
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
