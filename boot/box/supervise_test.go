package box

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/config/plan"
)

type fakeStage struct {
	name  string
	log   *[]string
	err   error
	panic bool
	stop  bool
}

func (f *fakeStage) Name() string { return f.name }

func (f *fakeStage) Apply(ctx context.Context, d *plan.Desired) error {
	*f.log = append(*f.log, "apply "+f.name)
	if f.panic {
		panic("boom")
	}
	return f.err
}

func (f *fakeStage) Report(s *Summary) { s.VMs++ }

type stoppingStage struct{ fakeStage }

func (s *stoppingStage) Stop(ctx context.Context) error {
	*s.log = append(*s.log, "stop "+s.name)
	return nil
}

func TestSupervisorAppliesInOrderAndStopsInReverse(t *testing.T) {
	var log []string
	s := &supervisor{stages: []Stage{
		&stoppingStage{fakeStage{name: "a", log: &log}},
		&fakeStage{name: "b", log: &log},
		&stoppingStage{fakeStage{name: "c", log: &log}},
	}}
	var sum Summary
	if err := s.apply(context.Background(), order("a", "b", "c"), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.VMs != 3 {
		t.Errorf("reports: %d", sum.VMs)
	}
	if err := s.stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"apply a", "apply b", "apply c", "stop c", "stop a"}
	if !slices.Equal(log, want) {
		t.Errorf("got %v, want %v", log, want)
	}
}

func TestSupervisorStopsAtFailure(t *testing.T) {
	for _, tc := range []struct {
		bad  *fakeStage
		want string
	}{
		{&fakeStage{name: "net", err: errors.New("no carrier")}, "net: no carrier"},
		{&fakeStage{name: "net", panic: true}, "net: panic: boom"},
	} {
		var log []string
		tc.bad.log = &log
		s := &supervisor{stages: []Stage{&fakeStage{name: "a", log: &log}, tc.bad, &stoppingStage{fakeStage{name: "c", log: &log}}}}
		err := s.apply(context.Background(), order("a", "net", "c"), &Summary{})
		var se *StageError
		if !errors.As(err, &se) || se.Stage != "net" || err.Error() != tc.want {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
		if !slices.Equal(log, []string{"apply a", "apply net"}) {
			t.Errorf("ran %v", log)
		}
		if err := s.stop(context.Background()); err != nil || len(log) != 2 {
			t.Errorf("stop ran stages that never applied: %v %v", log, err)
		}
	}
}

func TestDefaultStages(t *testing.T) {
	var names []string
	for _, s := range New(Options{}).sup.stages {
		names = append(names, s.Name())
	}
	if !slices.Equal(names, []string{"modules", "hostname", "loopback", "reserve", "network", "lldp", "serve", "time", "logging", "api", "vms", "containers"}) {
		t.Errorf("stages %v", names)
	}
	// PID 1 runs them in the compiled config's order: each is in it.
	if !slices.Equal(names, plan.Order) {
		t.Errorf("stages %v, apply order %v", names, plan.Order)
	}
}

// The stages run in the order the compiled config carries, not the order
// they were registered in; names without a stage are skipped.
func TestSupervisorFollowsTheCompiledOrder(t *testing.T) {
	var log []string
	s := &supervisor{stages: []Stage{
		&fakeStage{name: "a", log: &log},
		&stoppingStage{fakeStage{name: "b", log: &log}},
	}}
	if err := s.apply(context.Background(), order("x", "b", "a"), &Summary{}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(log, []string{"apply b", "apply a"}) {
		t.Errorf("ran %v", log)
	}
	if err := s.stop(context.Background()); err != nil || log[len(log)-1] != "stop b" {
		t.Errorf("stop: %v %v", log, err)
	}
}

// order is a desired state that only carries an apply order.
func order(stages ...string) *plan.Desired { return &plan.Desired{Order: stages} }

// compiled is cfg as PID 1 applies it: defaulted and compiled.
func compiled(cfg *config.Config) *plan.Desired {
	cfg.ApplyDefaults()
	p, err := plan.Compile(cfg)
	if err != nil {
		panic(err)
	}
	return &p.Desired
}

// blockingStage applies until its context ends, like a DHCP client
// waiting for a lease that never comes.
type blockingStage struct{ started chan struct{} }

func (blockingStage) Name() string { return "netcfg" }

func (b blockingStage) Apply(ctx context.Context, d *plan.Desired) error {
	close(b.started)
	<-ctx.Done()
	return ctx.Err()
}

func TestStopCancelsARunningApply(t *testing.T) {
	var log []string
	b := blockingStage{started: make(chan struct{})}
	s := &supervisor{stages: []Stage{&stoppingStage{fakeStage{name: "a", log: &log}}, b}}
	applied := make(chan error, 1)
	go func() { applied <- s.apply(context.Background(), order("a", "netcfg"), &Summary{}) }()
	<-b.started
	// A trial boot that times out names the stage it is stuck in.
	if got := s.currentStage(); got != "netcfg" {
		t.Errorf("applying stage %q while netcfg blocks", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-applied; !errors.Is(err, context.Canceled) {
		t.Errorf("apply returned %v", err)
	}
	if got := s.currentStage(); got != "" {
		t.Errorf("applying stage %q after the apply returned", got)
	}
	if !slices.Equal(log, []string{"apply a", "stop a"}) {
		t.Errorf("ran %v", log)
	}
}

// Every apply sets PID 1's soft memory limit to the config's, so that
// `nucbox apply` changes it on a running box; before the cgroup work,
// which a box without cgroup2 skips.
func TestReserveStageSetsPID1Memory(t *testing.T) {
	var got []int64
	r := &reserveStage{root: t.TempDir(), memoryLimit: func(n int64) { got = append(got, n) }}
	for _, n := range []int64{64 << 20, 96 << 20} {
		if err := r.Apply(context.Background(), &plan.Desired{PID1Memory: n}); err != nil {
			t.Fatal(err)
		}
	}
	if want := []int64{64 << 20, 96 << 20}; !slices.Equal(got, want) {
		t.Errorf("limits set %v, want %v", got, want)
	}
}
