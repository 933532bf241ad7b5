package box

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/workload"
	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/vmm"
)

// fakeGuest is a guest's workload that runs at once (or fails to start
// with startErr) and counts its starts and stops.
type fakeGuest struct {
	spec     vmm.Spec
	startErr error
	stopHook func(ctx context.Context) error // runs first in Stop, when set
	onStart  func()                          // runs first in Start, when set

	mu      sync.Mutex
	state   workload.State
	starts  int
	stopped int
	done    chan struct{}
}

func (f *fakeGuest) Start(ctx context.Context) error {
	if f.onStart != nil {
		f.onStart()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts++
	f.done = make(chan struct{})
	if f.startErr != nil {
		f.state = workload.StateFailed
		close(f.done)
		return f.startErr
	}
	f.state = workload.StateRunning
	return nil
}

func (f *fakeGuest) Stop(ctx context.Context) error {
	if f.stopHook != nil {
		if err := f.stopHook(ctx); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped++
	if f.state == workload.StateRunning {
		f.state = workload.StateStopped
		close(f.done)
	}
	return nil
}

func (f *fakeGuest) Done() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.done
}

func (f *fakeGuest) Err() error { return f.startErr }

// Logs is what a guest's console would have printed, CRLF and all.
func (f *fakeGuest) Logs() []byte {
	return []byte("booting " + f.spec.Name + "\r\nlogin:\r\n")
}

func (f *fakeGuest) Follow() ([]byte, <-chan []byte, func()) { return f.Logs(), nil, func() {} }

func (f *fakeGuest) Status() workload.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := workload.Status{Name: f.spec.Name, State: f.state, Details: map[string]string{"accel": "tcg"}}
	if f.startErr != nil {
		st.LastError = f.startErr.Error()
	}
	if f.state == workload.StateRunning {
		st.PID = 42
	}
	return st
}

func (f *fakeGuest) count() (starts, stopped int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts, f.stopped
}

// fakeVMs is a vms stage whose guests are fakes; fail names VMs whose
// start fails.
type fakeVMs struct {
	stage    *vmsStage
	mu       sync.Mutex
	made     map[string][]*fakeGuest
	fail     map[string]error
	stopHook func(ctx context.Context) error
	onStart  func()
}

func newFakeVMs() *fakeVMs {
	f := &fakeVMs{made: map[string][]*fakeGuest{}, fail: map[string]error{}}
	f.stage = &vmsStage{newGuest: func(s vmm.Spec, _ vmm.Options) workload.Workload {
		f.mu.Lock()
		defer f.mu.Unlock()
		g := &fakeGuest{spec: s, startErr: f.fail[s.Name], stopHook: f.stopHook, onStart: f.onStart, state: workload.StateStopped}
		f.made[s.Name] = append(f.made[s.Name], g)
		return g
	}}
	return f
}

// runs is how many runs name's guests started, stops how often they
// were stopped.
func (f *fakeVMs) runs(name string) int {
	n := 0
	for _, g := range f.made[name] {
		s, _ := g.count()
		n += s
	}
	return n
}

func (f *fakeVMs) stops(name string) int {
	n := 0
	for _, g := range f.made[name] {
		_, s := g.count()
		n += s
	}
	return n
}

// vmCfg is the compiled config of box "box" running vms.
func vmCfg(vms ...config.VM) *plan.Desired {
	return compiled(&config.Config{Hostname: "box", StateDir: "/nonexistent/state", VMs: vms})
}

// withBadMAC is d with the first NIC of VM name given a MAC that is not
// an Ethernet address.
func withBadMAC(d *plan.Desired, name string) *plan.Desired {
	for i := range d.VMs {
		if d.VMs[i].Name == name {
			d.VMs[i].NICs[0].MAC = net.HardwareAddr{0x02, 0x00}
		}
	}
	return d
}

func TestVMsStageFailedGuestDoesNotFailTheBox(t *testing.T) {
	f := newFakeVMs()
	f.fail["bad"] = errors.New("kernel /x: no such file")
	cfg := withBadMAC(vmCfg(
		config.VM{Name: "good", NICs: []config.NIC{{VLAN: 10}}},
		config.VM{Name: "bad", Restart: config.RestartNever},
		config.VM{Name: "badmac", NICs: []config.NIC{{}}},
	), "badmac")
	if err := f.stage.Apply(context.Background(), cfg); err != nil {
		t.Fatalf("Apply = %v; a failed VM must not fail the stage", err)
	}
	var s Summary
	f.stage.Report(&s)
	if s.VMs != 3 || len(s.Guests) != 3 {
		t.Fatalf("summary vms=%d guests=%+v, want 3 of each", s.VMs, s.Guests)
	}
	want := map[string]string{"good": "running", "bad": "failed", "badmac": "failed"}
	for _, g := range s.Guests {
		if g.State != want[g.Name] {
			t.Errorf("guest %s state %q, want %q", g.Name, g.State, want[g.Name])
		}
		if (g.State == "failed") != (g.Error != "") {
			t.Errorf("guest %s: state %s with error %q: a failed guest says why, a running one has no error", g.Name, g.State, g.Error)
		}
	}
	if s.Guests[0].Accel != "tcg" || s.Guests[0].PID != 42 {
		t.Errorf("running guest summary %+v lacks accel or pid", s.Guests[0])
	}
	good := f.made["good"][0].spec
	if len(good.NICs) != 1 || good.NICs[0].TAP != config.TAPName("good", 0) || good.StateDir != "/nonexistent/state" || good.Box != "box" {
		t.Errorf("spec of good = %+v: want its TAP from vswitch's naming, the state dir and the box name", good)
	}
	if _, made := f.made["badmac"]; made {
		t.Errorf("a guest was made for a VM whose MAC is not an Ethernet address")
	}
}

func TestVMsStageReapplyTouchesOnlyChanges(t *testing.T) {
	f := newFakeVMs()
	a, b := config.VM{Name: "a"}, config.VM{Name: "b", CPUs: 1}
	ctx := context.Background()
	if err := f.stage.Apply(ctx, vmCfg(a, b)); err != nil {
		t.Fatal(err)
	}
	if err := f.stage.Apply(ctx, vmCfg(a, b)); err != nil {
		t.Fatal(err)
	}
	if len(f.made["a"]) != 1 || len(f.made["b"]) != 1 {
		t.Fatalf("same config applied twice made guests a=%d b=%d, want 1 each", len(f.made["a"]), len(f.made["b"]))
	}
	f.fail["c"] = errors.New("no kernel")
	c := config.VM{Name: "c", Restart: config.RestartNever}
	if err := f.stage.Apply(ctx, vmCfg(a, b, c)); err != nil {
		t.Fatal(err)
	}
	delete(f.fail, "c")
	if err := f.stage.Apply(ctx, vmCfg(a, b, c)); err != nil {
		t.Fatal(err)
	}
	if len(f.made["a"]) != 1 || len(f.made["c"]) != 2 || f.made["c"][1].Status().State != workload.StateRunning {
		t.Errorf("re-apply: a made %d times (want 1), failed c made %d times (want 2, retried)", len(f.made["a"]), len(f.made["c"]))
	}
	b.CPUs = 2
	if err := f.stage.Apply(ctx, vmCfg(b)); err != nil {
		t.Fatal(err)
	}
	if _, stopped := f.made["a"][0].count(); stopped != 1 {
		t.Errorf("removed VM a was not stopped")
	}
	if _, stopped := f.made["b"][0].count(); len(f.made["b"]) != 2 || stopped != 1 || f.made["b"][1].starts != 1 {
		t.Errorf("changed VM b: want the old guest stopped and a new one started")
	}
	var s Summary
	f.stage.Report(&s)
	if s.VMs != 1 || len(s.Guests) != 1 || s.Guests[0].Name != "b" {
		t.Errorf("summary after removing a: %+v", s.Guests)
	}
}

func TestVMsStageStopsGuestsInParallel(t *testing.T) {
	f := newFakeVMs()
	// Each Stop waits for release, which comes only once all three are
	// in Stop at the same time: stops one after the other never get there.
	entered, release := make(chan struct{}, 3), make(chan struct{})
	f.stopHook = func(ctx context.Context) error {
		entered <- struct{}{}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := f.stage.Apply(context.Background(), vmCfg(config.VM{Name: "a"}, config.VM{Name: "b"}, config.VM{Name: "c"})); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.stage.Stop(ctx) }()
	for i := range 3 {
		select {
		case <-entered:
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of 3 guests were being stopped at once", i)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for name, gs := range f.made {
		if gs[0].stopped != 1 {
			t.Errorf("guest %s stopped %d times, want 1", name, gs[0].stopped)
		}
	}
	if err := f.stage.Stop(context.Background()); err != nil {
		t.Errorf("second Stop = %v, want nil (nothing left)", err)
	}
}

// QEMU and qemu-img start through PID 1's StartCommand, so that its
// reaper leaves their exit status to vmm (boot's
// TestStartCommandKeepsExitStatus).
func TestReaperProcsUseStartCommand(t *testing.T) {
	var started []*exec.Cmd
	v := newVMsStage(logger{}, nil, func(cmd *exec.Cmd) error {
		started = append(started, cmd)
		return cmd.Start()
	})
	var p vmm.Procs = v.procs
	cmd := exec.Command("sh", "-c", "exit 7")
	if err := p.Start(cmd); err != nil {
		t.Fatal(err)
	}
	err := p.Wait(cmd)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Errorf("Wait = %v, want exit status 7", err)
	}
	if len(started) != 1 || started[0] != cmd {
		t.Errorf("StartCommand started %v, want the command", started)
	}
}

// A shutdown that cancels the apply must still find the stage applied
// (Apply returns nil), so that Stop reaches the guests already started.
func TestVMsStageCancelledApplyStaysStoppable(t *testing.T) {
	f := newFakeVMs()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.onStart = cancel // the power button, pressed while the guest starts
	sv := &supervisor{stages: []Stage{f.stage}}
	if err := sv.apply(ctx, vmCfg(config.VM{Name: "a"}), &Summary{}); err != nil {
		t.Fatalf("apply cancelled during the guest's start = %v, want nil from the vms stage", err)
	}
	if err := sv.stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.made["a"]) != 1 || f.made["a"][0].stopped != 1 {
		t.Errorf("the guest started during the cancelled apply was not stopped")
	}
}

func TestVMsStageSerial(t *testing.T) {
	f := newFakeVMs()
	cfg := withBadMAC(vmCfg(config.VM{Name: "good"}, config.VM{Name: "badmac", NICs: []config.NIC{{}}}), "badmac")
	if err := f.stage.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	lines, ok := f.stage.logLines("good")
	if !ok || len(lines) != 2 || lines[0].Text != "booting good" || lines[1].Text != "login:" || lines[1].Seq != 2 {
		t.Errorf("serial(good) = %+v, %v; want the console's two lines without CR, numbered", lines, ok)
	}
	if lines, ok := f.stage.logLines("badmac"); !ok || len(lines) != 1 || !strings.HasPrefix(lines[0].Text, "error: ") {
		t.Errorf("serial(badmac) = %+v, %v; want the reason it has no console", lines, ok)
	}
	if _, ok := f.stage.logLines("nosuch"); ok {
		t.Error("serial of a VM that is not in the config was found")
	}
}
