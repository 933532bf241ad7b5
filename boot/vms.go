package boot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"reflect"
	"sync"

	"github.com/nucbox/nucbox/boot/api"

	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/vmm"
)

// vmsStage runs the config's QEMU guests through vmm, after the network
// stage has made their TAPs on the bridge with their VLANs.
//
// A VM is one workload among others, so its failure is not the box's: a
// guest whose config cannot work, whose files are missing or whose QEMU
// will not start is logged, shown as failed in the ready summary (with
// its error) and, when its restart policy allows, retried in the
// background by vmm with backoff, while the box still reaches ready and
// the other guests and containers run. So Apply never fails: even when a
// shutdown cancels it halfway, it returns nil, which keeps the stage among
// the applied ones and lets Stop shut down the guests it did start.
type vmsStage struct {
	// ctl serializes start, stop and restart requests.
	ctl    sync.Mutex
	mu     sync.Mutex
	guests map[string]*vmEntry
	order  []string // config order, for the summary

	// newGuest is vmm.NewGuest; tests replace it.
	newGuest func(vmm.Spec, vmm.Options) guest
}

// guest is the part of *vmm.Guest the stage uses.
type guest interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Status() vmm.Status
	Serial() []byte
	Done() <-chan struct{}
}

type vmEntry struct {
	spec vmm.Spec
	g    guest
	// err is why the guest could not even be made (bad NIC MAC).
	err error
	// held is set by a stop request: the guest stays stopped, through
	// applies that leave it unchanged, until a start request.
	held bool
	// restarts counts the restarts of the guests this one replaced
	// (start and restart requests make a new guest).
	restarts int
}

// consoleGuest is what *vmm.Guest offers beyond guest: the console and a
// serial buffer to hand on to the guest that replaces it.
type consoleGuest interface {
	OpenConsole() (*vmm.Console, error)
	SerialBuffer() *vmm.Ring
}

// GuestSummary is one VM in the ready summary.
type GuestSummary struct {
	Name  string `json:"name"`
	State string `json:"state"`
	Accel string `json:"accel,omitempty"`
	PID   int    `json:"pid,omitempty"`
	// StartMS is QEMU's time from exec to QMP "running".
	StartMS  int64  `json:"start_ms,omitempty"`
	Restarts int    `json:"restarts,omitempty"`
	Error    string `json:"error,omitempty"`
}

// reaperProcs starts QEMU and qemu-img as owned children of PID 1, so the
// orphan reaper leaves their exit status to vmm.
type reaperProcs struct{}

func (reaperProcs) Start(cmd *exec.Cmd) error { return StartCommand(cmd) }

func (reaperProcs) Wait(cmd *exec.Cmd) error { return cmd.Wait() }

func (*vmsStage) Name() string { return plan.StageVMs }

func (v *vmsStage) Apply(ctx context.Context, d *plan.Desired) error {
	want := map[string]vmm.Spec{}
	order := make([]string, 0, len(d.VMs))
	var bad []*vmEntry
	for _, spec := range d.VMs {
		order = append(order, spec.Name)
		if err := spec.CheckNICs(); err != nil {
			bad = append(bad, &vmEntry{spec: spec, err: err})
			continue
		}
		want[spec.Name] = spec
	}

	v.mu.Lock()
	if v.guests == nil {
		v.guests = map[string]*vmEntry{}
	}
	if v.newGuest == nil {
		v.newGuest = func(s vmm.Spec, o vmm.Options) guest { return vmm.NewGuest(s, o) }
	}
	// Guests that left the config or changed are stopped; the others
	// keep running untouched, which makes a repeated apply a no-op. A
	// guest whose supervision has ended (failed, or powered off with a
	// policy that does not restart it) is started afresh: applying the
	// config again is how an operator retries it after fixing its files.
	var stale []*vmEntry
	for name, e := range v.guests {
		if s, ok := want[name]; !ok || e.g == nil || ended(e.g) && !e.held || !reflect.DeepEqual(s, e.spec) {
			stale = append(stale, e)
			delete(v.guests, name)
		}
	}
	v.order = order
	var fresh []*vmEntry
	for _, e := range bad {
		v.guests[e.spec.Name] = e
		Logf("vms: %s: FAILED: %v (the box carries on without it)", e.spec.Name, e.err)
	}
	for _, name := range order {
		s, ok := want[name]
		if !ok {
			continue
		}
		if _, running := v.guests[name]; running {
			continue
		}
		e := &vmEntry{spec: s, g: v.newGuest(s, v.options())}
		v.guests[name] = e
		fresh = append(fresh, e)
	}
	v.mu.Unlock()

	if len(stale) > 0 {
		stopGuests(ctx, stale)
	}
	// Guests start side by side: each start mostly waits for its QEMU.
	var wg sync.WaitGroup
	for _, e := range fresh {
		wg.Go(func() {
			name := e.spec.Name
			// vmm logs the start, the accelerator and the state-dir
			// warning itself; a failure is said once more in plain words
			// because it is what an operator looks for.
			if err := e.g.Start(ctx); err != nil && ctx.Err() == nil {
				Logf("vms: %s: FAILED: %v (state %s; the box carries on without it)", name, err, e.g.Status().State)
			}
		})
	}
	wg.Wait()
	return nil
}

func ended(g guest) bool {
	select {
	case <-g.Done():
		return true
	default:
		return false
	}
}

func (v *vmsStage) options() vmm.Options {
	return vmm.Options{
		Procs: reaperProcs{},
		Log:   slog.New(&logHandler{prefix: "vms: "}),
	}
}

// Stop shuts every guest down at once (ACPI powerdown, then quit, then
// kill, within ctx): one after the other, a few slow guests would use up
// the whole shutdown budget.
func (v *vmsStage) Stop(ctx context.Context) error {
	v.mu.Lock()
	var all []*vmEntry
	for name, e := range v.guests {
		all = append(all, e)
		delete(v.guests, name)
	}
	v.mu.Unlock()
	return stopGuests(ctx, all)
}

func stopGuests(ctx context.Context, es []*vmEntry) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, e := range es {
		if e.g == nil {
			continue
		}
		wg.Go(func() {
			if err := e.g.Stop(ctx); err != nil {
				Logf("vms: %s: stop: %v", e.spec.Name, err)
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (v *vmsStage) Report(s *Summary) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s.VMs = len(v.order)
	s.Guests = nil
	for _, name := range v.order {
		e, ok := v.guests[name]
		if !ok {
			continue
		}
		gs := GuestSummary{Name: name, State: string(vmm.StateFailed)}
		if e.err != nil {
			gs.Error = e.err.Error()
		}
		if e.g != nil {
			st := e.g.Status()
			gs.State, gs.Accel, gs.PID = string(st.State), string(st.Accel), st.PID
			gs.StartMS, gs.Restarts = st.StartupTime.Milliseconds(), st.Restarts
			if st.State != vmm.StateRunning {
				gs.Error = st.LastError
			}
		}
		s.Guests = append(s.Guests, gs)
	}
}

// GuestStatuses returns the status of every VM of the applied config, in
// config order, for the API and the console.
func GuestStatuses() []vmm.Status {
	for _, st := range theSupervisor.stages {
		if v, ok := st.(*vmsStage); ok {
			return v.statuses()
		}
	}
	return nil
}

// GuestSerial is the tail of a VM's serial console as lines, for the API's
// per-workload logs; ok is false for a name that is not a VM of the
// applied config.
func GuestSerial(name string) ([]api.LogLine, bool) {
	for _, st := range theSupervisor.stages {
		if v, ok := st.(*vmsStage); ok {
			return v.serial(name)
		}
	}
	return nil, false
}

func (v *vmsStage) serial(name string) ([]api.LogLine, bool) {
	v.mu.Lock()
	e, ok := v.guests[name]
	v.mu.Unlock()
	switch {
	case !ok:
		return nil, false
	case e.g == nil:
		return []api.LogLine{{Seq: 1, Text: "error: " + e.err.Error()}}, true
	}
	return textLines(e.g.Serial()), true
}

func (v *vmsStage) statuses() []vmm.Status {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []vmm.Status
	for _, name := range v.order {
		e, ok := v.guests[name]
		if !ok {
			continue
		}
		if e.g == nil {
			out = append(out, vmm.Status{Name: name, State: vmm.StateFailed, LastError: e.err.Error()})
			continue
		}
		st := e.g.Status()
		st.Restarts += e.restarts
		out = append(out, st)
	}
	return out
}

// workloads lists the VMs for the API's status.
func (v *vmsStage) workloads() []api.Workload {
	v.mu.Lock()
	held := map[string]bool{}
	for name, e := range v.guests {
		held[name] = e.held
	}
	v.mu.Unlock()
	var out []api.Workload
	for _, s := range v.statuses() {
		w := vmWorkload(s)
		w.Held = held[s.Name]
		out = append(out, w)
	}
	return out
}

// entry returns the named VM's entry, or ErrNoWorkload.
func (v *vmsStage) entry(name string) (*vmEntry, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.guests[name]
	if !ok {
		return nil, api.ErrNoWorkload
	}
	return e, nil
}

// control starts, stops or restarts a VM on request. A stop shuts the
// guest down as at power-off (ACPI, quit, kill) and holds it stopped; a
// start or restart makes a new guest of the same spec that keeps the
// console history and counts on from the old one's restarts.
func (v *vmsStage) control(ctx context.Context, name string, a api.WorkloadAction) (api.Workload, error) {
	v.ctl.Lock()
	defer v.ctl.Unlock()
	e, err := v.entry(name)
	if err != nil {
		return api.Workload{}, err
	}
	if e.g == nil {
		return api.Workload{}, fmt.Errorf("VM %s cannot run: %v", name, e.err)
	}
	running := !e.held && !ended(e.g)
	switch a {
	case api.WorkloadStop:
		v.mu.Lock()
		e.held = true
		v.mu.Unlock()
		if !ended(e.g) {
			Logf("vms: %s: stopping on request", name)
			// The guest gets its shutdown-timeout even when the client
			// gives up waiting.
			if err := e.g.Stop(context.WithoutCancel(ctx)); err != nil {
				return v.workload(name), err
			}
		}
		Logf("vms: %s: stopped on request; it stays stopped until nucbox start %s", name, name)
		return v.workload(name), nil
	case api.WorkloadStart:
		if running {
			return v.workload(name), nil
		}
	case api.WorkloadRestart:
		if running {
			Logf("vms: %s: restarting on request", name)
			if err := e.g.Stop(context.WithoutCancel(ctx)); err != nil {
				return v.workload(name), err
			}
		}
	}
	n := &vmEntry{spec: e.spec, restarts: e.restarts + e.g.Status().Restarts}
	if a == api.WorkloadRestart {
		n.restarts++
	}
	opts := v.options()
	if cg, ok := e.g.(consoleGuest); ok {
		opts.SerialBuffer = cg.SerialBuffer()
	}
	n.g = v.newGuest(e.spec, opts)
	v.mu.Lock()
	if v.guests[name] != e {
		v.mu.Unlock()
		return api.Workload{}, fmt.Errorf("VM %s was changed by an apply meanwhile", name)
	}
	v.guests[name] = n
	v.mu.Unlock()
	if err := n.g.Start(ctx); err != nil && ctx.Err() == nil {
		Logf("vms: %s: FAILED: %v (state %s)", name, err, n.g.Status().State)
		return v.workload(name), nil
	}
	Logf("vms: %s: %sed on request", name, a)
	return v.workload(name), nil
}

func (v *vmsStage) workload(name string) api.Workload {
	for _, w := range v.workloads() {
		if w.Name == name {
			return w
		}
	}
	return api.Workload{Kind: "vm", Name: name}
}

// console opens a VM's serial console.
func (v *vmsStage) console(name string) (io.ReadWriteCloser, error) {
	e, err := v.entry(name)
	if err != nil {
		return nil, err
	}
	cg, ok := e.g.(consoleGuest)
	if !ok {
		return nil, api.ErrNotRunning
	}
	c, err := cg.OpenConsole()
	if errors.Is(err, vmm.ErrNotRunning) {
		return nil, api.ErrNotRunning
	}
	return c, err
}

// followSerial follows a VM's serial console; the buffer outlives the
// guest when it is replaced, so the follow goes on across a restart.
func (v *vmsStage) followSerial(name string) (follow, bool) {
	e, err := v.entry(name)
	if err != nil {
		return follow{}, false
	}
	if e.g == nil {
		return follow{backlog: []byte("error: " + e.err.Error() + "\n")}, true
	}
	f, ok := e.g.(interface {
		FollowSerial() ([]byte, <-chan []byte, func())
	})
	if !ok {
		return follow{backlog: e.g.Serial()}, true
	}
	b, more, cancel := f.FollowSerial()
	return follow{backlog: b, more: more, cancel: cancel, source: e.g}, true
}

// follow is a workload log being followed: what it holds now and its
// later output, until cancel. source identifies what produces the
// output; a follow whose channel closed looks for a new source.
type follow struct {
	backlog []byte
	more    <-chan []byte
	cancel  func()
	source  any
	// carried is how much of backlog came from an older source.
	carried int
}
