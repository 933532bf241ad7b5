package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/test/harness"
)

// applyBase runs one container without a NIC, from the busybox layout
// baked into the image, and the TLS API on a forwarded port.
const applyBase = `hostname: applybox
` + apiUplink + `containers:
  - name: first
    image: oci-layout:images/busybox
    command: [sleep, "100000"]
    stop-timeout: 1s
`

const applySecond = `  - name: second
    image: oci-layout:images/busybox
    command: [sleep, "100000"]
    stop-timeout: 1s
`

// TestApply changes a running box from the host: applying a config that
// adds a container starts it and leaves the first one's process and
// restart count alone; a try that removes it and is not confirmed rolls
// back by itself, and the container runs again.
func TestApply(t *testing.T) {
	harness.Require(t)
	start := time.Now()
	m, bin, remote := bootContainerBox(t, "apply.yaml", applyBase)

	// status polls until want accepts the workloads, within timeout.
	status := func(what string, timeout time.Duration, want func(map[string]api.Workload, *api.Status) bool) map[string]api.Workload {
		t.Helper()
		var ws map[string]api.Workload
		pollStatus(t, bin, remote, what, timeout, func(st *api.Status) bool {
			ws = map[string]api.Workload{}
			for _, w := range st.Workloads {
				ws[w.Name] = w
			}
			return want(ws, st)
		})
		return ws
	}
	running := func(w api.Workload, ok bool) bool { return ok && w.State == "running" && w.PID > 0 }

	before := status("first running", 60*time.Second, func(ws map[string]api.Workload, _ *api.Status) bool {
		w, ok := ws["first"]
		return running(w, ok)
	})
	first := before["first"]
	t.Logf("first: pid %d, %d restarts", first.PID, first.Restarts)

	withSecond := harness.WriteConfig(t, "apply-second.yaml", applyBase+applySecond)
	stdout, _, code := cli(t, bin, append([]string{"apply", withSecond}, remote...)...)
	if code != 0 || !strings.Contains(stdout, "+ container second") || !strings.Contains(stdout, "= container first") || !strings.Contains(stdout, "applied: the box runs config") {
		t.Fatalf("apply adding a container: exit %d\n%s", code, stdout)
	}
	m.MustExpect(30*time.Second, `nucbox: apply: running [0-9a-f]{12}`)
	after := status("second running", 30*time.Second, func(ws map[string]api.Workload, _ *api.Status) bool {
		w, ok := ws["second"]
		return running(w, ok)
	})
	if got := after["first"]; got.PID != first.PID || got.Restarts != first.Restarts || got.State != "running" {
		t.Errorf("first after adding second: pid %d restarts %d %s, want pid %d restarts %d running", got.PID, got.Restarts, got.State, first.PID, first.Restarts)
	}
	secondPID := after["second"].PID

	// A try that removes second, never confirmed. The comment makes the
	// config differ from the one the box booted with.
	without := harness.WriteConfig(t, "apply-without.yaml", "# without second\n"+applyBase)
	stdout, _, code = cli(t, bin, append([]string{"apply", without, "--try", "20s"}, remote...)...)
	if code != 0 || !strings.Contains(stdout, "- container second") || !strings.Contains(stdout, "applied on trial") {
		t.Fatalf("apply --try removing a container: exit %d\n%s", code, stdout)
	}
	onTrial := status("second removed on trial", 20*time.Second, func(ws map[string]api.Workload, st *api.Status) bool {
		_, ok := ws["second"]
		return !ok && st.Try != nil
	})
	if got := onTrial["first"]; got.PID != first.PID || got.Restarts != first.Restarts {
		t.Errorf("first during the try: pid %d restarts %d, want %d and %d", got.PID, got.Restarts, first.PID, first.Restarts)
	}
	_, stderr, code := cli(t, bin, append([]string{"apply", withSecond}, remote...)...)
	if code != 1 || !strings.Contains(stderr, "409") {
		t.Errorf("apply during a try: exit %d, want 1 with 409\n%s", code, stderr)
	}

	rb := m.MustExpect(40*time.Second, `nucbox: apply: not confirmed within 20s, rolled back to ([0-9a-f]{12})`)
	if !strings.HasPrefix(sha256File(t, withSecond), rb[1]) {
		t.Errorf("rolled back to %s, want the config with second", rb[1])
	}
	back := status("second running again", 30*time.Second, func(ws map[string]api.Workload, st *api.Status) bool {
		w, ok := ws["second"]
		return running(w, ok) && st.Try == nil
	})
	if back["second"].PID == secondPID {
		t.Errorf("second has the pid it had before it was removed (%d)", secondPID)
	}
	if got := back["first"]; got.PID != first.PID || got.Restarts != first.Restarts {
		t.Errorf("first after the rollback: pid %d restarts %d, want %d and %d", got.PID, got.Restarts, first.PID, first.Restarts)
	}
	if regexp.MustCompile(`failed: `).MatchString(m.Output()) {
		t.Errorf("a failure on the console:\n%s", m.Output())
	}
	t.Logf("done after %.1fs", time.Since(start).Seconds())
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
