package boot

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/containers"
)

// containersStage runs the config's OCI containers through the containers
// package, on the bridge the network stage made.
//
// As with VMs, a container is one workload among others: an image that
// cannot be found or unpacked, a command that does not exist or a limit
// the kernel refuses is reported for that container (console, status,
// its log) and retried by its restart policy in the background, while
// the box reaches ready and everything else runs. Apply therefore never
// fails; a shutdown that cancels it still leaves the stage among the
// applied ones so that Stop ends what did start.
type containersStage struct {
	// ctl serializes start, stop and restart requests.
	ctl     sync.Mutex
	mu      sync.Mutex
	rt      ctRuntime
	rtKey   string // state dir and box name the runtime was made for
	entries map[string]*ctEntry
	order   []string // config order, for the summary and the status

	// newRuntime makes the runtime; tests replace it.
	newRuntime func(containers.Options) (ctRuntime, error)
	// network is the box's switch, nil without one; tests replace it.
	network func(d *plan.Desired) *containers.Network
	// settle bounds how long Apply waits for new containers to run or
	// fail before the box is declared ready; pulls go on after it.
	settle time.Duration
}

// ctRuntime is the part of *containers.Runtime the stage uses.
type ctRuntime interface {
	Supervise(ct containers.Spec) (ctSupervisor, error)
}

// ctSupervisor is the part of *containers.Supervisor the stage uses.
type ctSupervisor interface {
	Status() containers.Status
	Logs() []byte
	Stop()
}

type ctEntry struct {
	ct  containers.Spec
	sup ctSupervisor
	// err is why the container could not even be supervised (an image
	// source that names nothing).
	err error
	// since is when supervision began, startMS how long it took to reach
	// running the first time.
	since   time.Time
	startMS int64
	// held is set by a stop request: the container stays stopped, through
	// applies that leave it unchanged, until a start request.
	held bool
	// restarts counts the restarts of the supervisors this one replaced
	// (start and restart requests make a new one), prevLog the tail of
	// their logs.
	restarts int
	prevLog  []byte
}

// followSup is what *containers.Supervisor offers beyond ctSupervisor.
type followSup interface {
	FollowLogs() ([]byte, <-chan []byte, func())
	Usage() (containers.Usage, error)
}

// realRuntime adapts *containers.Runtime to ctRuntime.
type realRuntime struct{ *containers.Runtime }

func (r realRuntime) Supervise(ct containers.Spec) (ctSupervisor, error) {
	return r.Runtime.Supervise(ct)
}

// defaultSettle covers a local image unpacked for the first time and a
// DHCP lease for the container under TCG; a registry pull that takes
// longer finishes after ready.
const defaultSettle = 60 * time.Second

// ctStateFailed is the state shown for a container that is not running
// and ended with an error: one its policy does not restart, or one whose
// config cannot work.
const ctStateFailed = "failed"

func (*containersStage) Name() string { return plan.StageContainers }

func (c *containersStage) Apply(ctx context.Context, d *plan.Desired) error {
	stateDir := d.StateDir
	type want struct {
		ct  containers.Spec
		err error
	}
	wants := map[string]want{}
	order := make([]string, 0, len(d.Containers))
	for _, ct := range d.Containers {
		wants[ct.Name] = want{ct, ct.Image.Check()}
		order = append(order, ct.Name)
	}

	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]*ctEntry{}
	}
	if c.newRuntime == nil {
		c.newRuntime = func(o containers.Options) (ctRuntime, error) {
			rt, err := containers.New(o)
			if err != nil {
				return nil, err
			}
			return realRuntime{rt}, nil
		}
	}
	if c.network == nil {
		c.network = boxNetwork
	}
	settle := c.settle
	if settle == 0 {
		settle = defaultSettle
	}
	// A new state directory, box name or bridge changes every
	// container's paths, MACs or ports: all of them start over under a
	// new runtime.
	var stale []*ctEntry
	network := c.network(d)
	key := stateDir + "\x00" + d.Hostname
	if network != nil {
		key += "\x00" + fmt.Sprint(network.Bridge)
	}
	if c.rt != nil && c.rtKey != key {
		for name, e := range c.entries {
			stale = append(stale, e)
			delete(c.entries, name)
		}
		c.rt = nil
	}
	// Containers that left the config or changed are stopped; the others
	// keep running untouched, which makes a repeated apply a no-op.
	for name, e := range c.entries {
		w, ok := wants[name]
		if !ok || e.sup == nil || !reflect.DeepEqual(w.ct, e.ct) {
			stale = append(stale, e)
			delete(c.entries, name)
		}
	}
	c.order = order
	var rtErr error
	if c.rt == nil && len(d.Containers) > 0 {
		c.rt, rtErr = c.newRuntime(containers.Options{
			StateDir:   stateDir,
			Box:        d.Hostname,
			Logger:     slog.New(&logHandler{prefix: "containers: "}),
			SpawnGuard: WithSpawnGuard,
			Network:    network,
		})
		if rtErr == nil {
			c.rtKey = key
		}
	}
	c.mu.Unlock()
	if network == nil {
		for _, ct := range d.Containers {
			if len(ct.NICs) > 0 {
				Logf("containers: %s: warning: the box has no switch; its NICs are not wired (loopback only)", ct.Name)
			}
		}
	}

	if len(stale) > 0 {
		stopContainers(ctx, stale)
	}

	c.mu.Lock()
	var fresh []*ctEntry
	for _, name := range order {
		if _, running := c.entries[name]; running {
			continue
		}
		w := wants[name]
		e := &ctEntry{ct: w.ct, err: w.err, since: time.Now()}
		switch {
		case e.err != nil:
		case rtErr != nil:
			e.err = fmt.Errorf("container runtime: %w", rtErr)
		default:
			e.sup, e.err = c.rt.Supervise(w.ct)
		}
		c.entries[name] = e
		if e.err != nil {
			Logf("containers: %s: FAILED: %v (the box carries on without it)", name, e.err)
			continue
		}
		fresh = append(fresh, e)
	}
	c.mu.Unlock()

	c.settleFresh(ctx, fresh, settle)
	return nil
}

// settleFresh waits until each new container runs or has failed once, so
// that the ready summary tells the truth about them, and says so on the
// console. A container still pulling at the deadline is left to it.
func (c *containersStage) settleFresh(ctx context.Context, fresh []*ctEntry, settle time.Duration) {
	if len(fresh) == 0 {
		return
	}
	deadline := time.NewTimer(settle)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	pending := append([]*ctEntry(nil), fresh...)
	for len(pending) > 0 {
		left := pending[:0]
		for _, e := range pending {
			st := e.sup.Status()
			switch {
			case st.State == containers.StateRunning:
				c.mu.Lock()
				e.startMS = time.Since(e.since).Milliseconds()
				c.mu.Unlock()
				Logf("containers: %s: running pid %d (%s) %d ms after its start", e.ct.Name, st.Pid, st.Image, e.startMS)
			case st.State != containers.StateExited && st.State != containers.StateBackoff && st.State != containers.StateStopped:
				left = append(left, e)
			case st.LastError != "":
				Logf("containers: %s: FAILED: %s (%s; the box carries on without it)", e.ct.Name, st.LastError, retryNote(st))
			default:
				Logf("containers: %s: %s (%s)", e.ct.Name, st.State, st.LastExit)
			}
		}
		pending = left
		if len(pending) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			for _, e := range pending {
				st := e.sup.Status()
				Logf("containers: %s: still %s after %v; it goes on in the background", e.ct.Name, st.State, settle)
			}
			return
		case <-tick.C:
		}
	}
}

func retryNote(st containers.Status) string {
	if st.State == containers.StateBackoff && !st.NextStart.IsZero() {
		return "retrying in " + time.Until(st.NextStart).Round(100*time.Millisecond).String()
	}
	return "not restarted by its policy"
}

// boxNetwork is the network stage's switch with d's bridge for container
// NICs, nil when there is no switch (no network stage, or it did not run).
func boxNetwork(d *plan.Desired) *containers.Network {
	var n *networkStage
	for _, st := range theSupervisor.stages {
		if ns, ok := st.(*networkStage); ok {
			n = ns
		}
	}
	if n == nil {
		return nil
	}
	n.mu.Lock()
	sw, ns := n.sw, n.ns
	n.mu.Unlock()
	if sw == nil || ns == nil {
		return nil
	}
	return &containers.Network{Switch: sw, Host: ns, Bridge: d.Switch.Bridge,
		Logger: slog.New(&logHandler{prefix: "containers: "})}
}

// Stop stops every container at once (SIGTERM, then SIGKILL after its
// stop-timeout): one after the other, a few slow ones would use up the
// whole shutdown budget.
func (c *containersStage) Stop(ctx context.Context) error {
	c.mu.Lock()
	var all []*ctEntry
	for name, e := range c.entries {
		all = append(all, e)
		delete(c.entries, name)
	}
	c.mu.Unlock()
	return stopContainers(ctx, all)
}

// stopContainers stops es in parallel and waits for them, or for ctx:
// a container still stopping then is left to the power-off.
func stopContainers(ctx context.Context, es []*ctEntry) error {
	var wg sync.WaitGroup
	n := 0
	for _, e := range es {
		if e.sup == nil {
			continue
		}
		n++
		wg.Go(func() {
			was := e.sup.Status().State
			e.sup.Stop()
			if was != containers.StateExited && was != containers.StateStopped {
				Logf("containers: %s stopped (was %s; %s)", e.ct.Name, was, e.sup.Status().LastExit)
			}
		})
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("containers: %d container(s) still stopping: %w", n, ctx.Err())
	}
}

// ContainerSummary is one container as the ready summary would list it.
type ContainerSummary struct {
	Name  string `json:"name"`
	State string `json:"state"`
	PID   int    `json:"pid,omitempty"`
	// StartMS is the time from the start of supervision (image lookup
	// included) to the first process running.
	StartMS  int64  `json:"start_ms,omitempty"`
	Restarts int    `json:"restarts,omitempty"`
	Error    string `json:"error,omitempty"`
}

func (c *containersStage) Report(s *Summary) {
	s.Containers = len(c.summaries())
}

// summaries are the containers of the applied config, in config order.
func (c *containersStage) summaries() []ContainerSummary {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ContainerSummary, 0, len(c.order))
	for _, name := range c.order {
		e, ok := c.entries[name]
		if !ok {
			continue
		}
		cs := ContainerSummary{Name: name, State: ctStateFailed, StartMS: e.startMS}
		if e.err != nil {
			cs.Error = e.err.Error()
		}
		if e.sup != nil {
			st := e.sup.Status()
			cs.State, cs.PID, cs.Restarts = ctState(st), st.Pid, st.Restarts
			if st.State != containers.StateRunning {
				cs.Error = st.LastError
			}
		}
		out = append(out, cs)
	}
	return out
}

// ctState is the library's state, with an ended container that has an
// error shown as failed.
func ctState(st containers.Status) string {
	if st.State == containers.StateExited && st.LastError != "" {
		return ctStateFailed
	}
	return st.State
}

// Workloads lists the containers for the API's status.
func (c *containersStage) Workloads() []api.Workload {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]api.Workload, 0, len(c.order))
	for _, name := range c.order {
		e, ok := c.entries[name]
		if !ok {
			continue
		}
		w := api.Workload{Kind: "container", Name: name, State: ctStateFailed, Details: map[string]string{}}
		if e.err != nil {
			w.LastError = e.err.Error()
			w.Details["image"] = e.ct.Image.String()
		}
		if e.sup != nil {
			st := e.sup.Status()
			w.State, w.PID, w.Started, w.Restarts, w.LastError = ctState(st), st.Pid, st.Started, st.Restarts+e.restarts, st.LastError
			for _, n := range st.NICs {
				if n.Address != "" {
					w.Addresses = append(w.Addresses, n.Address)
				}
				if n.DHCP != nil {
					w.Leases = append(w.Leases, apiLease(n.DHCP))
				}
			}
			w.Details["image"] = st.Image
			if st.Digest != "" {
				w.Details["digest"] = st.Digest
			}
			if st.LastExit != "" {
				w.Details["last_exit"] = st.LastExit
			}
			if !st.NextStart.IsZero() {
				w.Details["next_start"] = st.NextStart.UTC().Format(time.RFC3339)
			}
			if p := st.Progress; p != nil {
				w.Details["pull"] = fmt.Sprintf("layer %d/%d %d/%d bytes", p.Layer, p.Layers, p.Done, p.Total)
			}
		}
		if e.startMS > 0 {
			w.Details["startup_ms"] = strconv.FormatInt(e.startMS, 10)
		}
		w.Held = e.held
		out = append(out, w)
	}
	return out
}

// ContainerLog is the tail of a container's log (its output and nucbox's
// notes on it) as lines, for the API's per-workload logs. ok is false
// for a name that is not a container of the applied config.
func (c *containersStage) ContainerLog(name string) (lines []api.LogLine, ok bool) {
	c.mu.Lock()
	e, ok := c.entries[name]
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	if e.sup == nil {
		return []api.LogLine{{Seq: 1, Text: "error: " + e.err.Error()}}, true
	}
	return textLines(append(append([]byte(nil), e.prevLog...), e.sup.Logs()...)), true
}

// entry returns the named container's entry, or ErrNoWorkload.
func (c *containersStage) entry(name string) (*ctEntry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[name]
	if !ok {
		return nil, api.ErrNoWorkload
	}
	return e, nil
}

// maxPrevLog bounds the log carried over from replaced supervisors.
const maxPrevLog = containers.DefaultRingSize

// control starts, stops or restarts a container on request. A stop
// stops it as at power-off (SIGTERM, SIGKILL after its stop-timeout) and
// holds it stopped; a start or restart supervises it anew, counting on
// from the old supervisor's restarts and keeping its log's tail.
func (c *containersStage) control(ctx context.Context, name string, a api.WorkloadAction) (api.Workload, error) {
	c.ctl.Lock()
	defer c.ctl.Unlock()
	e, err := c.entry(name)
	if err != nil {
		return api.Workload{}, err
	}
	if e.sup == nil {
		return api.Workload{}, fmt.Errorf("container %s cannot run: %v", name, e.err)
	}
	st := e.sup.Status()
	// Running, or on its way there: supervised and not ended.
	running := !e.held && st.State != containers.StateStopped && st.State != containers.StateExited
	switch a {
	case api.WorkloadStop:
		c.mu.Lock()
		e.held = true
		c.mu.Unlock()
		Logf("containers: %s: stopping on request", name)
		e.sup.Stop()
		Logf("containers: %s: stopped on request (%s); it stays stopped until nucbox start %s", name, e.sup.Status().LastExit, name)
		return c.workload(name), nil
	case api.WorkloadStart:
		if running {
			return c.workload(name), nil
		}
	case api.WorkloadRestart:
		Logf("containers: %s: restarting on request", name)
		e.sup.Stop()
	}
	c.mu.Lock()
	rt := c.rt
	c.mu.Unlock()
	if rt == nil {
		return api.Workload{}, fmt.Errorf("container %s: no container runtime", name)
	}
	prev := append(append([]byte(nil), e.prevLog...), e.sup.Logs()...)
	if len(prev) > maxPrevLog {
		prev = prev[len(prev)-maxPrevLog:]
	}
	n := &ctEntry{ct: e.ct, since: time.Now(), restarts: e.restarts + e.sup.Status().Restarts, prevLog: prev}
	if a == api.WorkloadRestart {
		n.restarts++
	}
	n.sup, err = rt.Supervise(e.ct)
	if err != nil {
		return api.Workload{}, fmt.Errorf("container %s: %w", name, err)
	}
	c.mu.Lock()
	if c.entries[name] != e {
		c.mu.Unlock()
		n.sup.Stop()
		return api.Workload{}, fmt.Errorf("container %s was changed by an apply meanwhile", name)
	}
	c.entries[name] = n
	c.mu.Unlock()
	// Wait a little for the new process, so that the answer says how the
	// start went; a slow image pull goes on in the background.
	wait := time.NewTimer(15 * time.Second)
	defer wait.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s := n.sup.Status().State
		if s != containers.StatePulling && s != containers.StateStarting {
			break
		}
		select {
		case <-ctx.Done():
		case <-wait.C:
		case <-tick.C:
			continue
		}
		break
	}
	Logf("containers: %s: %sed on request (%s)", name, a, n.sup.Status().State)
	return c.workload(name), nil
}

func (c *containersStage) workload(name string) api.Workload {
	for _, w := range c.Workloads() {
		if w.Name == name {
			return w
		}
	}
	return api.Workload{Kind: "container", Name: name}
}

// followLog follows a container's log. A start or restart request makes
// a new supervisor, whose log is a new source.
func (c *containersStage) followLog(name string) (follow, bool) {
	e, err := c.entry(name)
	if err != nil {
		return follow{}, false
	}
	if e.sup == nil {
		return follow{backlog: []byte("error: " + e.err.Error() + "\n")}, true
	}
	f, ok := e.sup.(followSup)
	if !ok {
		return follow{backlog: append(append([]byte(nil), e.prevLog...), e.sup.Logs()...)}, true
	}
	b, more, cancel := f.FollowLogs()
	return follow{backlog: append(append([]byte(nil), e.prevLog...), b...), more: more, cancel: cancel, source: e.sup, carried: len(e.prevLog)}, true
}

// usage is a running container's usage from its cgroup.
func (c *containersStage) usage(name string) (containers.Usage, bool) {
	e, err := c.entry(name)
	if err != nil || e.sup == nil {
		return containers.Usage{}, false
	}
	f, ok := e.sup.(followSup)
	if !ok {
		return containers.Usage{}, false
	}
	u, err := f.Usage()
	return u, err == nil
}

// ContainerLog finds a container's log in the running supervisor's
// containers stage.
func ContainerLog(name string) ([]api.LogLine, bool) {
	for _, st := range theSupervisor.stages {
		if c, ok := st.(*containersStage); ok {
			return c.ContainerLog(name)
		}
	}
	return nil, false
}
