package box

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/workload"
	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/containers"
)

// fakeSup is a container's workload: it runs at once, fails to start
// with startErr, or stays pulling until its start is cancelled when
// pulling is set. Each run adds "hello\nworld\n" to its log.
type fakeSup struct {
	name, image string
	startErr    error
	pulling     bool

	mu      sync.Mutex
	st      workload.Status
	runs    int
	stopped int
	log     []byte
	done    chan struct{}
}

func (f *fakeSup) Start(ctx context.Context) error {
	f.mu.Lock()
	f.runs++
	f.done = make(chan struct{})
	f.st.State = workload.StateStarting
	if f.pulling {
		f.st.State = workload.StatePulling
		f.mu.Unlock()
		<-ctx.Done()
		f.mu.Lock()
	}
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		f.st.State = workload.StateStopped
		close(f.done)
		return err
	}
	if f.startErr != nil {
		f.st.State, f.st.LastError = workload.StateExited, f.startErr.Error()
		close(f.done)
		return f.startErr
	}
	f.log = append(f.log, "hello\nworld\n"...)
	f.st.State, f.st.PID, f.st.LastError = workload.StateRunning, 100+f.runs, ""
	return nil
}

// exit ends the run on its own, with exit status 0.
func (f *fakeSup) exit() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.State, f.st.PID, f.st.LastExit = workload.StateExited, 0, "exit status 0"
	close(f.done)
}

func (f *fakeSup) Stop(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped++
	if f.st.State == workload.StateRunning {
		f.st.State, f.st.PID, f.st.LastExit = workload.StateStopped, 0, "killed by SIGTERM"
		close(f.done)
	}
	return nil
}

func (f *fakeSup) Done() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.done
}

func (f *fakeSup) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.st.State == workload.StateExited && f.st.LastError != "" {
		return f.startErr
	}
	return nil
}

func (f *fakeSup) Status() workload.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.st
	st.Name, st.Brief, st.Details = f.name, f.image, map[string]string{"image": f.image}
	if st.State == workload.StateExited && st.LastError != "" {
		st.State = workload.StateFailed
	}
	return st
}

func (f *fakeSup) Logs() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]byte(nil), f.log...)
}

func (f *fakeSup) Follow() ([]byte, <-chan []byte, func()) { return f.Logs(), nil, func() {} }

func (f *fakeSup) count() (runs, stopped int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runs, f.stopped
}

// fakeRuntime makes containers that run, or fail to start with the
// error given for their name, or stay pulling.
type fakeRuntime struct {
	mu      sync.Mutex
	made    map[string][]*fakeSup
	fail    map[string]error
	pulling map[string]bool
	opts    []containers.Options
}

func newFakeContainers() (*containersStage, *fakeRuntime) {
	fr := &fakeRuntime{made: map[string][]*fakeSup{}, fail: map[string]error{}, pulling: map[string]bool{}}
	// PID 1's spawn guard, as the box passes it on.
	guard := func(fn func() ([]int, error)) error { _, err := fn(); return err }
	c := &containersStage{
		spawnGuard: guard,
		newRuntime: func(o containers.Options) (ctRuntime, error) {
			fr.mu.Lock()
			fr.opts = append(fr.opts, o)
			fr.mu.Unlock()
			return fr, nil
		},
		network: func(*plan.Desired) *containers.Network { return nil },
		settle:  2 * time.Second,
	}
	return c, fr
}

func (fr *fakeRuntime) Supervise(ct containers.Spec) (workload.Workload, error) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	s := &fakeSup{name: ct.Name, image: ct.Image.String(), startErr: fr.fail[ct.Name], pulling: fr.pulling[ct.Name],
		st: workload.Status{State: workload.StatePulling}}
	fr.made[ct.Name] = append(fr.made[ct.Name], s)
	return s, nil
}

// count is how many containers were made for name (one per spec).
func (fr *fakeRuntime) count(name string) int {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return len(fr.made[name])
}

// runs is how many runs name's containers started.
func (fr *fakeRuntime) runs(name string) int {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	n := 0
	for _, s := range fr.made[name] {
		r, _ := s.count()
		n += r
	}
	return n
}

// ctConfig is the compiled config of box "box" running cts.
func ctConfig(cts ...config.Container) *plan.Desired {
	return compiled(&config.Config{Hostname: "box", StateDir: "/tmp/nbx-state", Containers: cts})
}

func TestContainersFailureIsPerContainer(t *testing.T) {
	c, fr := newFakeContainers()
	fr.fail["bad"] = errors.New("image oci-layout:/x: no such file")
	cfg := ctConfig(
		config.Container{Name: "web", Image: "oci-layout:/images/web"},
		config.Container{Name: "bad", Image: "oci-layout:/x"},
		config.Container{Name: "broken", Image: "registry.example/broken:1"},
	)
	// An image that names nothing, which no config compiles to.
	cfg.Containers[2].Image = containers.Source{Transport: containers.TransportRegistry}
	if err := c.Apply(context.Background(), cfg); err != nil {
		t.Fatalf("Apply = %v; a container's failure must not fail the stage", err)
	}
	if len(fr.opts) != 1 || fr.opts[0].StateDir != "/tmp/nbx-state" || fr.opts[0].Box != "box" || fr.opts[0].SpawnGuard == nil {
		t.Errorf("runtime options %+v: want the config's state dir and box, and PID 1's spawn guard", fr.opts)
	}
	var sum Summary
	c.Report(&sum)
	if sum.Containers != 3 {
		t.Errorf("summary containers = %d, want 3", sum.Containers)
	}
	got := map[string]ContainerSummary{}
	for _, s := range c.summaries() {
		got[s.Name] = s
	}
	if s := got["web"]; s.State != "running" || s.PID == 0 || s.Error != "" {
		t.Errorf("web: %+v, want running", s)
	}
	if s := got["bad"]; s.State != "backoff" || !strings.Contains(s.Error, "no such file") {
		t.Errorf("bad: %+v, want backoff with its error", s)
	}
	if s := got["broken"]; s.State != "failed" || s.Error == "" {
		t.Errorf("broken: %+v, want failed with the reference's error", s)
	}
	ws := c.Workloads()
	if len(ws) != 3 || ws[0].Name != "web" || ws[0].Kind != "container" || ws[0].Details["image"] != "oci-layout:/images/web" {
		t.Fatalf("workloads %+v", ws)
	}
	if ws[2].State != "failed" || ws[2].LastError == "" {
		t.Errorf("broken workload %+v, want failed with an error", ws[2])
	}
	lines, ok := c.logLines("web")
	if !ok || len(lines) != 2 || lines[1].Text != "world" {
		t.Errorf("log of web = %+v, %v", lines, ok)
	}
	if _, ok := c.logLines("nope"); ok {
		t.Errorf("log of an unknown container found")
	}
	if err := c.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web", "bad"} {
		if _, stopped := fr.made[name][0].count(); stopped != 1 {
			t.Errorf("%s stopped %d times, want 1", name, stopped)
		}
	}
}

func TestContainersApplyIsIdempotent(t *testing.T) {
	c, fr := newFakeContainers()
	web := config.Container{Name: "web", Image: "oci-layout:/images/web"}
	db := config.Container{Name: "db", Image: "oci-layout:/images/db"}
	ctx := context.Background()
	if err := c.Apply(ctx, ctConfig(web, db)); err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(ctx, ctConfig(web, db)); err != nil {
		t.Fatal(err)
	}
	if fr.count("web") != 1 || fr.count("db") != 1 {
		t.Fatalf("second apply of the same config restarted containers: web %d db %d", fr.count("web"), fr.count("db"))
	}
	// Changing one container touches only that one; a removed one stops.
	web.Memory = 64 << 20
	if err := c.Apply(ctx, ctConfig(web)); err != nil {
		t.Fatal(err)
	}
	if _, stopped := fr.made["web"][0].count(); fr.count("web") != 2 || stopped != 1 {
		t.Errorf("changed web: %d supervisors, old stopped %d times", fr.count("web"), stopped)
	}
	if _, stopped := fr.made["db"][0].count(); stopped != 1 {
		t.Errorf("removed db stopped %d times, want 1", stopped)
	}
	if ws := c.Workloads(); len(ws) != 1 || ws[0].Name != "web" {
		t.Errorf("workloads after removal: %+v", ws)
	}
	if len(fr.opts) != 1 {
		t.Errorf("runtime made %d times, want once", len(fr.opts))
	}
	// A new box name changes the MACs: a new runtime, every container
	// started again.
	renamed := ctConfig(web)
	renamed.Hostname = "box2"
	if err := c.Apply(ctx, renamed); err != nil {
		t.Fatal(err)
	}
	if _, stopped := fr.made["web"][1].count(); len(fr.opts) != 2 || fr.opts[1].Box != "box2" || fr.count("web") != 3 || stopped != 1 {
		t.Errorf("after a rename: %d runtimes, web supervised %d times", len(fr.opts), fr.count("web"))
	}
}

// A container still pulling when the settle time runs out does not hold
// the box's ready up.
func TestContainersSettleBound(t *testing.T) {
	c, fr := newFakeContainers()
	c.settle = 50 * time.Millisecond
	fr.pulling["slow"] = true
	start := time.Now()
	if err := c.Apply(context.Background(), ctConfig(config.Container{Name: "slow", Image: "registry.example/slow:1"})); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Apply took %v with a settle time of 50ms", d)
	}
	if ws := c.Workloads(); len(ws) != 1 || ws[0].State != "pulling" {
		t.Errorf("workloads %+v, want slow pulling", ws)
	}
}
