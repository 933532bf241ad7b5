package vmm

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeGuest is a guest run by the fake QEMU in mode; policy only goes
// into its spec: restarting is the workload pool's.
func fakeGuest(t *testing.T, mode string, policy string, opts Options) *Guest {
	t.Helper()
	t.Setenv(fakeQEMUEnv, mode)
	// Under -race a process sleeps a second before exiting; the fake QEMU
	// must exit as promptly as QEMU does.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	opts.QEMU = os.Args[0]
	if opts.Log == nil {
		opts.Log = newTestLogger(t)
	}
	if opts.KVM == nil {
		opts.KVM = fakeProbe("", &KVMError{StageOpen, errors.New("no KVM in this test")})
	}
	if opts.Host == nil {
		opts.Host = func() Host { return Host{} }
	}
	if opts.QMPTimeout == 0 {
		opts.QMPTimeout = 500 * time.Millisecond
	}
	if opts.QuitTimeout == 0 {
		opts.QuitTimeout = 300 * time.Millisecond
	}
	s := vm1(func(s *Spec) {
		s.Name, s.StateDir, s.Restart, s.ShutdownTimeout = "fake", t.TempDir(), policy, 200*time.Millisecond
	})
	g := NewGuest(s, opts)
	t.Cleanup(func() { g.Stop(context.Background()) })
	return g
}

// TestRunEnds: a run that ends on its own closes Done, says how in Err
// and the status, and the same guest starts again.
func TestRunEnds(t *testing.T) {
	for _, tc := range []struct {
		mode         string
		final        State
		lastExit     string
		lastErrorHas string
	}{
		{"crash", StateFailed, "exit status 1", "QEMU exit status 1"},
		{"poweroff", StateStopped, "exit status 0", ""},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			g := fakeGuest(t, tc.mode, "never", Options{})
			for run := 1; run <= 2; run++ {
				if err := g.Start(context.Background()); err != nil {
					t.Fatalf("start %d: %v", run, err)
				}
				select {
				case <-g.Done():
				case <-time.After(10 * time.Second):
					t.Fatalf("run %d did not end: %+v", run, g.Status())
				}
				st := g.Status()
				if st.State != tc.final || st.LastExit != tc.lastExit || st.PID != 0 {
					t.Errorf("run %d: %+v, want state %s, last exit %q", run, st, tc.final, tc.lastExit)
				}
				if err := g.Err(); (err != nil) != (tc.lastErrorHas != "") || err != nil && !strings.Contains(err.Error(), tc.lastErrorHas) {
					t.Errorf("run %d: Err = %v, want one with %q", run, err, tc.lastErrorHas)
				}
				if tc.lastErrorHas != "" && !strings.Contains(st.LastError, tc.lastErrorHas) {
					t.Errorf("last error %q, want it to contain %q", st.LastError, tc.lastErrorHas)
				}
			}
			if err := g.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			if st := g.Status(); st.State != tc.final {
				t.Errorf("Stop of an ended guest changed its state to %s", st.State)
			}
		})
	}
}

func TestStopPaths(t *testing.T) {
	for _, tc := range []struct{ mode, by string }{
		{"obey", "powerdown"},
		{"ignore", "quit"},
		{"deaf", "kill"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			g := fakeGuest(t, tc.mode, "always", Options{})
			if err := g.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			pid := g.Status().PID
			start := time.Now()
			if err := g.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			st := g.Status()
			t.Logf("%s: stopped by %s in %v", tc.mode, st.StoppedBy, time.Since(start).Round(time.Millisecond))
			if st.StoppedBy != tc.by || st.State != StateStopped || st.PID != 0 {
				t.Errorf("after Stop: %+v", st)
			}
			if err := syscall.Kill(pid, 0); err == nil {
				t.Errorf("QEMU pid %d still exists", pid)
			}
		})
	}
}

// A stop whose context ends early cuts the powerdown grace period short,
// but QEMU is still ended.
func TestStopContextShortensGrace(t *testing.T) {
	g := fakeGuest(t, "ignore", "always", Options{})
	g.spec.ShutdownTimeout = time.Hour
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	g.Stop(ctx)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("stop took %v despite a 100ms context", took)
	}
	if st := g.Status(); st.StoppedBy != "quit" || st.PID != 0 {
		t.Errorf("after Stop: %+v", st)
	}
}

func TestStartFailureCarriesQEMUError(t *testing.T) {
	g := fakeGuest(t, "fail", "never", Options{})
	err := g.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Could not open 'x'") {
		t.Fatalf("Start: %v", err)
	}
	<-g.Done()
	if st := g.Status(); st.State != StateFailed || !strings.Contains(st.LastError, "Could not open") {
		t.Errorf("status: %+v", st)
	}
}

func TestQMPSilentQEMUTimesOut(t *testing.T) {
	// QEMU's start is bounded by StartTimeout, not by the (shorter)
	// command timeout: a busy box builds machines slowly.
	g := fakeGuest(t, "silent", "never", Options{QMPTimeout: 100 * time.Millisecond, StartTimeout: 600 * time.Millisecond})
	start := time.Now()
	err := g.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "QMP handshake: no QMP greeting from QEMU in") {
		t.Fatalf("Start: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("gave up after %v", took)
	} else if took < 400*time.Millisecond {
		t.Errorf("gave up after %v: by the command timeout, not the start's", took)
	}
	<-g.Done()
}

// countingProcs is what PID 1 supplies: every child goes through it.
type countingProcs struct {
	mu            sync.Mutex
	starts, waits int
	pids          map[int]bool
}

func (c *countingProcs) Start(cmd *exec.Cmd) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	c.starts++
	c.pids[cmd.Process.Pid] = true
	return nil
}

func (c *countingProcs) Wait(cmd *exec.Cmd) error {
	err := cmd.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits++
	delete(c.pids, cmd.Process.Pid)
	return err
}

// runs starts g n times, each run once the last one ended, as the
// workload pool restarts a guest that keeps crashing.
func runs(t *testing.T, g *Guest, n int) {
	t.Helper()
	for i := range n {
		if err := g.Start(context.Background()); err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
		select {
		case <-g.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("run %d did not end", i+1)
		}
	}
}

func TestChildrenGoThroughProcs(t *testing.T) {
	procs := &countingProcs{pids: map[int]bool{}}
	g := fakeGuest(t, "crash", "always", Options{Procs: procs})
	runs(t, g, 3)
	g.Stop(context.Background())
	procs.mu.Lock()
	defer procs.mu.Unlock()
	if procs.starts < 3 || procs.starts != procs.waits || len(procs.pids) != 0 {
		t.Errorf("starts %d, waits %d, still tracked %v", procs.starts, procs.waits, procs.pids)
	}
}

func TestSerialAcrossRestarts(t *testing.T) {
	g := fakeGuest(t, "crash", "always", Options{})
	runs(t, g, 3)
	waitFor(t, 10*time.Second, "three consoles in the ring", func() bool {
		return strings.Count(string(g.Serial()), "fake guest: console up") >= 3
	})
	g.Stop(context.Background())
	if ring := string(g.Serial()); strings.Count(ring, "QEMU pid") < 3 {
		t.Errorf("ring:\n%s", ring)
	}
	log, err := os.ReadFile(g.Spec().Paths().Serial)
	if err != nil || strings.Count(string(log), "fake guest: console up") < 3 {
		t.Errorf("serial.log (%v):\n%s", err, log)
	}
}

func TestCheckFailureStartsNothing(t *testing.T) {
	procs := &countingProcs{pids: map[int]bool{}}
	g := fakeGuest(t, "obey", "always", Options{Procs: procs})
	g.spec.Boot = "x"
	if err := g.Start(context.Background()); err == nil || !strings.Contains(err.Error(), `boot "x"`) {
		t.Fatalf("Start: %v", err)
	}
	<-g.Done()
	if st := g.Status(); st.State != StateFailed || procs.starts != 0 {
		t.Errorf("status %+v, %d processes started", st, procs.starts)
	}
}

func TestStatusJSON(t *testing.T) {
	g := fakeGuest(t, "obey", "always", Options{})
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(g.Status())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"state":"running"`, `"accel":"tcg"`, `"qmp-status":"running"`, `"qemu-version":"7.2.99"`, `"pid":`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("status JSON lacks %s: %s", key, b)
		}
	}
	if err := g.Start(context.Background()); err == nil {
		t.Error("second Start succeeded")
	}
}
