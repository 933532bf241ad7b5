package workload

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nucbox/nucbox/vmm"
	"github.com/nucbox/nucbox/vmm/vmmtest"
)

// Host tier: the pool driving a real qemu-system-x86_64 with the tiny
// guest.
func TestHostKillIsRestartedWithBackoff(t *testing.T) {
	vmmtest.HostTier(t, false)
	kernel, _, err := vmmtest.DebianKernel()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	spec := vmm.Spec{
		Box:             "testbox",
		StateDir:        state,
		Name:            "tiny",
		CPUs:            1,
		Memory:          256 << 20,
		Machine:         "q35",
		AccelMode:       "auto",
		Kernel:          kernel,
		Initrd:          vmmtest.BuildTinyInitramfs(t, state),
		Append:          vmmtest.GuestAppend,
		Disks:           []vmm.Disk{{Path: filepath.Join(state, "tiny.qcow2"), Size: 64 << 20, Format: "qcow2"}},
		CloudInit:       &vmm.CloudInit{UserData: "#cloud-config\n"},
		Restart:         string(Always),
		ShutdownTimeout: time.Second,
	}
	backoff := Backoff{Min: 500 * time.Millisecond, Max: 4 * time.Second, Stable: time.Minute}
	p, _ := newTestPool(t, Options{Kind: "vm", Backoff: backoff})
	log, _ := newTestLog(t)
	p.Apply(context.Background(), []Want{{Name: "tiny", Key: spec, Policy: Always,
		New: func() (Workload, error) { return VM(vmm.NewGuest(spec, vmm.Options{Log: log})), nil }}})
	if st := status(t, p, "tiny"); st.State != StateRunning {
		b, _ := p.Logs("tiny")
		t.Fatalf("after the apply: %+v\nserial:\n%s", st, b)
	}

	for i, want := range []time.Duration{backoff.Delay(1), backoff.Delay(2)} {
		before := status(t, p, "tiny")
		killed := time.Now()
		if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "the restart", func() bool {
			st := status(t, p, "tiny")
			return st.Restarts == i+1 && st.State == StateRunning
		})
		gap := time.Since(killed)
		st := status(t, p, "tiny")
		t.Logf("kill %d: restarted as pid %d after %v (backoff %v); last exit %q", i+1, st.PID, gap.Round(time.Millisecond), want, st.LastExit)
		if st.PID == before.PID || st.Details["qmp_status"] != "running" {
			t.Errorf("after restart: %+v", st)
		}
		if gap < want {
			t.Errorf("restarted after %v, before its backoff of %v", gap, want)
		}
		if !strings.Contains(st.LastExit, "killed") {
			t.Errorf("last exit %q does not say it was killed", st.LastExit)
		}
	}
	if b, _ := p.Logs("tiny"); bytes.Count(b, []byte("QEMU pid")) != 3 {
		t.Errorf("serial ring shows %d QEMU starts, want 3", bytes.Count(b, []byte("QEMU pid")))
	}
}
