package vmm

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestStartTrustsResume: QEMU announces RESUME before it answers cont,
// so a start asks query-status only when no RESUME came first (the fake
// QEMU notes every query in its log). Neither start asks before cont:
// who serves the QMP socket is the kernel's answer.
func TestStartTrustsResume(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		queries int
	}{
		{"obey", 0},
		{"late-resume", 1},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			g := fakeGuest(t, tc.mode, "never", Options{})
			if err := g.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			if st := g.Status(); st.State != StateRunning || st.QMPStatus != "running" {
				t.Errorf("after Start: state %s, QMP status %q; want running, running", st.State, st.QMPStatus)
			}
			// After QEMU's end its log is complete.
			if err := g.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			log, err := os.ReadFile(g.spec.Paths().QEMULog)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(log), "fake qemu: query-status"); n != tc.queries {
				t.Errorf("start sent query-status %d times, want %d; QEMU log:\n%s", n, tc.queries, log)
			}
		})
	}
}

// TestStartChecksQMPPeer: a QMP socket served by another process than
// the QEMU just started is refused before the guest is let run.
func TestStartChecksQMPPeer(t *testing.T) {
	g := fakeGuest(t, "proxy", "never", Options{})
	err := g.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not by the QEMU just started") {
		t.Fatalf("Start with the socket served by QEMU's child: %v, want it refused", err)
	}
	if st := g.Status(); st.State != StateFailed {
		t.Errorf("state %s, want failed", st.State)
	}
}
