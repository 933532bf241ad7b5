package workload

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// An apply of the same wants leaves running workloads untouched, with
// their process and restart count; a changed one is replaced, a removed
// one stopped and closed.
func TestApplyTouchesOnlyChanges(t *testing.T) {
	p, _ := newTestPool(t, Options{})
	var fs fakes
	ctx := context.Background()
	apply := func(wants ...Want) { p.Apply(ctx, wants) }
	apply(fs.want("a", 1, Always), fs.want("b", 1, Always))
	a := fs.get("a", 0)
	a.exit(errCrash)
	waitFor(t, 5*time.Second, "a's restart", func() bool {
		st := status(t, p, "a")
		return st.Restarts == 1 && st.State == StateRunning
	})
	before := status(t, p, "a")
	apply(fs.want("a", 1, Always), fs.want("b", 1, Always))
	if fs.count("a") != 1 || fs.count("b") != 1 {
		t.Fatalf("the same wants applied twice made a=%d b=%d, want 1 each", fs.count("a"), fs.count("b"))
	}
	if st := status(t, p, "a"); st.PID != before.PID || st.Restarts != 1 {
		t.Errorf("a after the same apply: pid %d restarts %d, want pid %d restarts 1", st.PID, st.Restarts, before.PID)
	}
	apply(fs.want("b", 2, Always))
	if _, stops, closed := a.counts(); stops != 1 || !closed {
		t.Errorf("removed a: stopped %d times, closed %v", stops, closed)
	}
	if _, stops, _ := fs.get("b", 0).counts(); fs.count("b") != 2 || stops != 1 {
		t.Errorf("changed b: made %d times, old one stopped %d times", fs.count("b"), stops)
	}
	if st := status(t, p, "b"); st.State != StateRunning || st.Restarts != 0 {
		t.Errorf("new b: %+v", st)
	}
	if sts := p.Statuses(); len(sts) != 1 || sts[0].Name != "b" || sts[0].Kind != "vm" {
		t.Errorf("statuses after removing a: %+v", sts)
	}
	// A change of policy alone replaces the workload too.
	apply(fs.want("b", 2, Never))
	if fs.count("b") != 3 {
		t.Errorf("a new policy made b %d times, want 3", fs.count("b"))
	}
}

// A stop request holds a workload stopped through applies and its
// policy until a start request; a restart request counts as a restart.
func TestHeldStop(t *testing.T) {
	p, log := newTestPool(t, Options{})
	var fs fakes
	ctx := context.Background()
	p.Apply(ctx, []Want{fs.want("a", 1, Always)})
	st, err := p.Control(ctx, "a", Stop)
	if err != nil || st.State != StateStopped || !st.Held {
		t.Fatalf("stop: %+v, %v", st, err)
	}
	if !strings.Contains(log.String(), "a: stopped on request; it stays stopped until nucbox start a") {
		t.Errorf("no held line on the console:\n%s", log)
	}
	p.Apply(ctx, []Want{fs.want("a", 1, Always)})
	time.Sleep(50 * time.Millisecond)
	if runs, _, _ := fs.get("a", 0).counts(); runs != 1 || fs.count("a") != 1 {
		t.Errorf("an apply or the policy started the held workload (%d runs)", runs)
	}
	if st := status(t, p, "a"); st.State != StateStopped || !st.Held {
		t.Errorf("after the apply: %+v", st)
	}
	st, err = p.Control(ctx, "a", Start)
	if err != nil || st.State != StateRunning || st.Held || st.Restarts != 0 {
		t.Fatalf("start: %+v, %v", st, err)
	}
	st, err = p.Control(ctx, "a", Restart)
	if runs, stops, _ := fs.get("a", 0).counts(); err != nil || st.State != StateRunning || st.Restarts != 1 || runs != 3 || stops != 2 {
		t.Errorf("restart: %+v, %v (%d runs, %d stops)", st, err, runs, stops)
	}
	if _, err := p.Control(ctx, "nosuch", Stop); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown workload: %v", err)
	}
	// Held in backoff: the stop ends the wait for the restart at once.
	fs.get("a", 0).mu.Lock()
	fs.get("a", 0).startErr = errCrash
	fs.get("a", 0).mu.Unlock()
	p.o.Backoff = Backoff{Min: time.Hour, Max: time.Hour, Stable: time.Hour}
	fs.get("a", 0).exit(errCrash)
	waitFor(t, 5*time.Second, "backoff", func() bool { return status(t, p, "a").State == StateBackoff })
	began := time.Now()
	if st, err := p.Control(ctx, "a", Stop); err != nil || st.State != StateStopped || time.Since(began) > time.Second {
		t.Errorf("stop in backoff: %+v, %v after %v", st, err, time.Since(began))
	}
}

// A workload that cannot run is listed as failed with its reason, and
// its log says why; the others run.
func TestCannotRun(t *testing.T) {
	p, log := newTestPool(t, Options{Noun: "VM"})
	var fs fakes
	bad := Want{Name: "bad", Err: errors.New(`nic 0: MAC "zz" is not an Ethernet address`), Details: map[string]string{"image": "x"}}
	p.Apply(context.Background(), []Want{fs.want("good", 1, Always), bad})
	st := status(t, p, "bad")
	if st.State != StateFailed || !strings.Contains(st.LastError, "MAC") || st.Details["image"] != "x" {
		t.Errorf("bad: %+v", st)
	}
	if !strings.Contains(log.String(), `bad: FAILED: nic 0: MAC \"zz\" is not an Ethernet address (the box carries on without it)`) {
		t.Errorf("console:\n%s", log)
	}
	if b, ok := p.Logs("bad"); !ok || !strings.HasPrefix(string(b), "error: ") {
		t.Errorf("log of bad: %q, %v", b, ok)
	}
	if _, err := p.Control(context.Background(), "bad", Start); err == nil || !strings.Contains(err.Error(), "VM bad cannot run") {
		t.Errorf("start of bad: %v", err)
	}
	if _, err := p.Console("bad"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("console of bad: %v", err)
	}
	if _, err := p.Console("good"); !errors.Is(err, ErrNoConsole) {
		t.Errorf("console of a workload without one: %v", err)
	}
	if st := status(t, p, "good"); st.State != StateRunning {
		t.Errorf("good: %+v", st)
	}
}

// A panic in a workload's supervision does not end the process: the
// workload is failed with the panic, the others run, and an apply makes
// it anew.
func TestPanicMarksFailed(t *testing.T) {
	p, _ := newTestPool(t, Options{})
	fs := fakes{setup: func(f *fake) { f.panics = f.name == "boom" }}
	p.Apply(context.Background(), []Want{fs.want("boom", 1, Always), fs.want("calm", 1, Always)})
	st := status(t, p, "boom")
	if st.State != StateFailed || !strings.Contains(st.LastError, "panic") {
		t.Errorf("boom: %+v", st)
	}
	if st := status(t, p, "calm"); st.State != StateRunning {
		t.Errorf("calm: %+v", st)
	}
	fs.setup = nil
	p.Apply(context.Background(), []Want{fs.want("boom", 1, Always), fs.want("calm", 1, Always)})
	if st := status(t, p, "boom"); fs.count("boom") != 2 || st.State != StateRunning {
		t.Errorf("boom after a new apply: %+v (made %d times)", st, fs.count("boom"))
	}
}

// Stop stops every workload at once, and returns at ctx's end when one
// does not finish.
func TestStopAllInParallel(t *testing.T) {
	p, _ := newTestPool(t, Options{})
	release := make(chan struct{})
	fs := fakes{setup: func(f *fake) { f.stopping = release }}
	p.Apply(context.Background(), []Want{fs.want("a", 1, Always), fs.want("b", 1, Always), fs.want("c", 1, Always)})
	done := make(chan error, 1)
	go func() { done <- p.Stop(context.Background()) }()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "c"} {
		if _, stops, closed := fs.get(name, 0).counts(); stops != 1 || !closed {
			t.Errorf("%s stopped %d times, closed %v", name, stops, closed)
		}
	}
	if len(p.Statuses()) != 0 {
		t.Errorf("the pool still lists %+v", p.Statuses())
	}

	stuck := make(chan struct{})
	fs.setup = func(f *fake) { f.stopping = stuck }
	p.Apply(context.Background(), []Want{fs.want("d", 1, Always)})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	began := time.Now()
	if err := p.Stop(ctx); err == nil || time.Since(began) > 2*time.Second {
		t.Errorf("Stop with a stuck workload: %v after %v", err, time.Since(began))
	}
	close(stuck)
}

// Apply waits for new workloads at most Settle; a start still under way
// goes on in the background.
func TestSettleBound(t *testing.T) {
	p, log := newTestPool(t, Options{Settle: 50 * time.Millisecond})
	fs := fakes{setup: func(f *fake) { f.block = true }}
	began := time.Now()
	p.Apply(context.Background(), []Want{fs.want("slow", 1, Always)})
	if d := time.Since(began); d > time.Second {
		t.Errorf("Apply took %v with a settle time of 50ms", d)
	}
	if st := status(t, p, "slow"); st.State != StateStarting {
		t.Errorf("slow: %+v", st)
	}
	if !strings.Contains(log.String(), "slow: still starting after 50ms; it goes on in the background") {
		t.Errorf("console:\n%s", log)
	}
}

// A follow carries on across a restart and across the workload's
// replacement by an apply, and ends when the workload leaves the pool.
func TestFollowAcrossRestartAndReplacement(t *testing.T) {
	p, _ := newTestPool(t, Options{})
	var fs fakes
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.Apply(ctx, []Want{fs.want("a", 1, Always)})
	backlog, more, ok := p.Follow(ctx, "a")
	if !ok || string(backlog) != "run 1\n" {
		t.Fatalf("follow: %q, %v", backlog, ok)
	}
	next := func() string {
		t.Helper()
		select {
		case b, ok := <-more:
			if !ok {
				return "(end)"
			}
			return string(b)
		case <-time.After(5 * time.Second):
			t.Fatal("nothing followed")
			return ""
		}
	}
	a := fs.get("a", 0)
	a.write("hello\n")
	if got := next(); got != "hello\n" {
		t.Errorf("followed %q", got)
	}
	a.exit(errCrash)
	if got := next(); got != "run 2\n" {
		t.Errorf("after the restart: %q", got)
	}
	p.Apply(ctx, []Want{fs.want("a", 2, Always)})
	if got := next(); got != "run 1\n" {
		t.Errorf("after the replacement: %q", got)
	}
	fs.get("a", 1).write("new\n")
	if got := next(); got != "new\n" {
		t.Errorf("from the successor: %q", got)
	}
	p.Apply(ctx, nil)
	if got := next(); got != "(end)" {
		t.Errorf("after the removal: %q", got)
	}
	if _, _, ok := p.Follow(ctx, "a"); ok {
		t.Error("a removed workload was followed")
	}
}
