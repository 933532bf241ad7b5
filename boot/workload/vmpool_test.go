package workload

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/vmm"
	"github.com/nucbox/nucbox/vmm/vmmtest"
)

// fakeVM is a pool running one guest, "fake", of the fake QEMU in mode
// under policy.
func fakeVM(t *testing.T, mode string, policy Policy, backoff Backoff) *Pool {
	t.Helper()
	t.Setenv(vmmtest.FakeQEMUEnv, mode)
	// Under -race a process sleeps a second before exiting; the fake QEMU
	// must exit as promptly as QEMU does.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	log, _ := newTestLog(t)
	opts := vmm.Options{
		QEMU: os.Args[0],
		Log:  log,
		KVM: func() (string, error) {
			return "", &vmm.KVMError{Stage: vmm.StageOpen, Err: errors.New("no KVM in this test")}
		},
		Host:        func() vmm.Host { return vmm.Host{} },
		QMPTimeout:  500 * time.Millisecond,
		QuitTimeout: 300 * time.Millisecond,
	}
	spec := vmm.Spec{Name: "fake", StateDir: t.TempDir(), CPUs: 1, Memory: 1 << 30, Machine: "q35", AccelMode: "auto",
		Restart: string(policy), ShutdownTimeout: 200 * time.Millisecond}
	p, _ := newTestPool(t, Options{Kind: "vm", Backoff: backoff})
	p.Apply(context.Background(), []Want{{Name: "fake", Key: spec, Policy: policy,
		New: func() (Workload, error) { return VM(vmm.NewGuest(spec, opts)), nil }}})
	return p
}

// ended waits until the pool no longer supervises name.
func ended(t *testing.T, p *Pool, name string) {
	t.Helper()
	e := p.lookup(name)
	waitFor(t, 10*time.Second, "the end of the supervision", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return e.sup == nil || !e.sup.active()
	})
}

func TestSupervisePolicies(t *testing.T) {
	for _, tc := range []struct {
		policy       Policy
		mode         string
		restarts     bool // keeps restarting
		final        State
		lastExit     string
		lastErrorHas string
	}{
		{Always, "crash", true, "", "exit status 1", "QEMU exit status 1"},
		{Always, "poweroff", true, "", "exit status 0", ""},
		{OnFailure, "crash", true, "", "exit status 1", "QEMU exit status 1"},
		{OnFailure, "poweroff", false, StateStopped, "exit status 0", ""},
		{Never, "crash", false, StateFailed, "exit status 1", "QEMU exit status 1"},
		{Never, "poweroff", false, StateStopped, "exit status 0", ""},
	} {
		t.Run(string(tc.policy)+"/"+tc.mode, func(t *testing.T) {
			p := fakeVM(t, tc.mode, tc.policy, quick)
			if tc.restarts {
				waitFor(t, 10*time.Second, "three restarts", func() bool { return status(t, p, "fake").Restarts >= 3 })
			} else {
				ended(t, p, "fake")
			}
			st := status(t, p, "fake")
			if tc.final != "" && st.State != tc.final {
				t.Errorf("state %s, want %s", st.State, tc.final)
			}
			if !tc.restarts && st.Restarts != 0 {
				t.Errorf("%d restarts, want none", st.Restarts)
			}
			if st.LastExit != tc.lastExit {
				t.Errorf("last exit %q, want %q", st.LastExit, tc.lastExit)
			}
			if tc.lastErrorHas != "" && !strings.Contains(st.LastError, tc.lastErrorHas) {
				t.Errorf("last error %q, want it to contain %q", st.LastError, tc.lastErrorHas)
			}
			if _, err := p.Control(context.Background(), "fake", Stop); err != nil {
				t.Fatal(err)
			}
			if st := status(t, p, "fake"); st.State != StateStopped && st.State != StateFailed {
				t.Errorf("after Stop: %s", st.State)
			}
		})
	}
}

func TestStartFailureIsRetried(t *testing.T) {
	p := fakeVM(t, "fail", Always, quick)
	if st := status(t, p, "fake"); !strings.Contains(st.LastError, "Could not open") {
		t.Fatalf("after the first start: %+v", st)
	}
	waitFor(t, 10*time.Second, "retries", func() bool { return status(t, p, "fake").Restarts >= 2 })
	start := time.Now()
	p.Control(context.Background(), "fake", Stop)
	if st := status(t, p, "fake"); st.State != StateStopped || time.Since(start) > time.Second {
		t.Errorf("stop during retries: %+v after %v", st, time.Since(start))
	}
}

func TestStopDuringBackoffIsImmediate(t *testing.T) {
	p := fakeVM(t, "crash", Always, Backoff{Min: time.Hour, Max: time.Hour, Stable: time.Hour})
	waitFor(t, 5*time.Second, "backoff", func() bool { return status(t, p, "fake").State == StateBackoff })
	if next := status(t, p, "fake").NextStart; time.Until(next) < 59*time.Minute {
		t.Errorf("next start %v, want in an hour", next)
	}
	start := time.Now()
	p.Control(context.Background(), "fake", Stop)
	if took := time.Since(start); took > time.Second {
		t.Errorf("stop in backoff took %v", took)
	}
	if st := status(t, p, "fake"); st.State != StateStopped {
		t.Errorf("state %s", st.State)
	}
}

// A failed first start is answered only once the status says what comes
// next: the ready summary reads it right after the apply.
func TestStatusSettledWhenStartFails(t *testing.T) {
	for _, tc := range []struct {
		policy Policy
		want   State
	}{
		{Never, StateFailed},
		{Always, StateBackoff},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			// A backoff long enough that the retry cannot overtake the read.
			p := fakeVM(t, "fail", tc.policy, Backoff{Min: time.Hour, Max: time.Hour, Stable: time.Hour})
			if st := status(t, p, "fake"); st.State != tc.want || st.LastError == "" {
				t.Errorf("status right after the failed start: state %s, error %q; want %s with the error", st.State, st.LastError, tc.want)
			}
		})
	}
}
