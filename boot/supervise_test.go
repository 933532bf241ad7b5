package boot

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
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
	withConsole(t)
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
	withConsole(t)
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
	for _, s := range defaultStages() {
		names = append(names, s.Name())
	}
	if !slices.Equal(names, []string{"modules", "hostname", "loopback", "network", "vms", "containers"}) {
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
	withConsole(t)
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

// The ready line is the console contract the end-to-end tests parse.
func TestReadyLine(t *testing.T) {
	buf := withConsole(t)
	rec := newConfigRecord("/etc/nucbox/config.yaml", []byte("hostname: nuc1\n"))
	sum := Summary{Hostname: "nuc1", Config: rec.SHA256, ConfigSource: rec.Source,
		InitMS: 2591, ReadyMS: 3979, RSSKiB: 13608, Modules: 30, Root: "tmpfs"}
	Logf("ready %s", sum.JSON())
	out := buf.String()
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("ready is not one line: %q", out)
	}
	m := regexp.MustCompile(`^\[ *\d+\.\d{6}\] nucbox: ready (\{.*\})\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("ready line %q", out)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(m[1]), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"hostname", "config", "init_ms", "ready_ms", "rss_kib", "modules", "vms", "containers"} {
		if _, ok := got[k]; !ok {
			t.Errorf("ready JSON lacks %q: %s", k, m[1])
		}
	}
	// sha256sum of the config bytes, as a user would check it.
	if got["config"] != "490b487fe5900ed584e7433263c86a43df1bc73178b7b04e7fae87d5fcb64bfb" {
		t.Errorf("config hash %v", got["config"])
	}
	if got["hostname"] != "nuc1" || got["init_ms"] != 2591.0 || got["vms"] != 0.0 {
		t.Errorf("values: %v", got)
	}
}

func TestFailureText(t *testing.T) {
	got := failureText("config", "/etc/nucbox/config.yaml: 2 errors", []string{
		"/etc/nucbox/config.yaml:1:11: hostname: invalid host name",
		"/etc/nucbox/config.yaml:5:1: bogus: unknown field",
	})
	want := "failed: config: /etc/nucbox/config.yaml: 2 errors\n" +
		"    /etc/nucbox/config.yaml:1:11: hostname: invalid host name\n" +
		"    /etc/nucbox/config.yaml:5:1: bogus: unknown field"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := failureText("modules", "foo: not in the image", nil); got != "failed: modules: foo: not in the image" {
		t.Errorf("single: %q", got)
	}
}

func TestErrorLines(t *testing.T) {
	joined := errors.Join(errors.New("a: x"), errors.Join(errors.New("b: y"), errors.New("c\nd")))
	if got := errorLines(joined); !slices.Equal(got, []string{"a: x", "b: y", "c", "d"}) {
		t.Errorf("joined: %q", got)
	}
	multi := errors.New("f:1:1: a: bad\n\nf:2:1: b: worse\n")
	if got := errorLines(multi); !slices.Equal(got, []string{"f:1:1: a: bad", "f:2:1: b: worse"}) {
		t.Errorf("multi-line: %q", got)
	}
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
	withConsole(t)
	var log []string
	b := blockingStage{started: make(chan struct{})}
	s := &supervisor{stages: []Stage{&stoppingStage{fakeStage{name: "a", log: &log}}, b}}
	applied := make(chan error, 1)
	go func() { applied <- s.apply(context.Background(), order("a", "netcfg"), &Summary{}) }()
	<-b.started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-applied; !errors.Is(err, context.Canceled) {
		t.Errorf("apply returned %v", err)
	}
	if !slices.Equal(log, []string{"apply a", "stop a"}) {
		t.Errorf("ran %v", log)
	}
}
