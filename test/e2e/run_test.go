package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/test/harness"
	"golang.org/x/sys/unix"
)

// openPTY returns a new pseudo-terminal's two ends, so that a command runs
// as it would in the user's terminal (QEMU's console then puts it in raw
// mode, and nucbox run ends its lines for one).
func openPTY(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening a pseudo-terminal: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pseudo-terminal number: %v", err)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening the pseudo-terminal's other end: %v", err)
	}
	t.Cleanup(func() { ptm.Close() })
	return ptm, pts
}

// termRun is `nucbox ARGS` running in a terminal of its own.
type termRun struct {
	cmd     *exec.Cmd
	ptm     *os.File
	console *harness.Console
	exited  chan error
}

func startInTerminal(t *testing.T, name, bin string, args ...string) *termRun {
	t.Helper()
	ptm, pts := openPTY(t)
	r := &termRun{cmd: exec.Command(bin, args...), ptm: ptm, exited: make(chan error, 1)}
	r.cmd.Stdin, r.cmd.Stdout, r.cmd.Stderr = pts, pts, pts
	r.cmd.Env = append(os.Environ(), "NUCBOX_TOKEN=")
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting nucbox %s: %v", strings.Join(args, " "), err)
	}
	pts.Close()
	r.console = harness.NewConsole(func(line string) { t.Logf("%s| %s", name, line) })
	go func() { _, _ = r.console.ReadFrom(ptm) }()
	go func() { r.exited <- r.cmd.Wait() }()
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Kill()
		}
	})
	return r
}

func (r *termRun) expect(t *testing.T, timeout time.Duration, re string) []string {
	t.Helper()
	m, err := r.console.Expect(timeout, re)
	if err != nil {
		t.Fatalf("waiting for %q: %v", re, err)
	}
	return m
}

// quit types Ctrl-A X, QEMU's quit key on its console, and waits for the
// command to end.
func (r *termRun) quit(t *testing.T) {
	t.Helper()
	if _, err := r.ptm.Write([]byte{0x01, 'x'}); err != nil {
		t.Fatalf("typing Ctrl-A X: %v", err)
	}
	select {
	case err := <-r.exited:
		if err != nil {
			t.Errorf("nucbox run after Ctrl-A X: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("nucbox run did not end within 30s of Ctrl-A X")
	}
}

// TestRunCommand drives `nucbox run examples/basic.yaml` as a user in a
// terminal would: it builds the image, boots it, prints how to reach the
// box, and `nucbox status` with what it printed answers; Ctrl-A X ends
// it. A second run finds the image in the cache instead of building.
func TestRunCommand(t *testing.T) {
	harness.Require(t)
	bin := harness.Nucbox(t)
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	args := []string{"run", filepath.Join(root, basicConfig), "--cache", cache, "--platform-cache", harness.CacheDir(t, "platform"), "--accel", "tcg", "--memory", "1024", "--cpus", "1"}

	r := startInTerminal(t, "run", bin, args...)
	r.expect(t, 30*time.Second, `no api.listen: this run's image listens on ":8443"`)
	r.expect(t, 3*time.Minute, `building the image of .*basic\.yaml`)
	m := r.expect(t, 3*time.Minute, `nucbox status --host (https://127\.0\.0\.1:\d+) --token (\S+) --fingerprint ([0-9A-F:]{95})`)
	stdout, stderr, code := cli(t, bin, "status", "-o", "json", "--host", m[1], "--token", m[2], "--fingerprint", m[3])
	if code != 0 {
		t.Fatalf("nucbox status with what nucbox run printed: exit %d: %s", code, stderr)
	}
	var st api.Status
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, stdout)
	}
	if st.Hostname != "nucbox" || st.Phase != "ready" {
		t.Errorf("status: hostname %q phase %q, want nucbox, ready", st.Hostname, st.Phase)
	}
	r.quit(t)

	again := startInTerminal(t, "rerun", bin, args...)
	again.expect(t, 30*time.Second, `the image is cached in `+regexp.QuoteMeta(cache))
	again.expect(t, time.Minute, `booting .*basic\.yaml`)
	again.quit(t)
	if strings.Contains(again.console.String(), "building the image") {
		t.Error("the second run built the image again")
	}
}

// trunkConfig is a box with one container on VLAN 30, which its uplink
// carries tagged.
func trunkConfig(host, ct, addr string) string {
	return `hostname: ` + host + `
uplink:
  interface: auto
  bridge: br0
  ipv4: dhcp
  vlans: [30]
containers:
  - {name: ` + ct + `, image: "oci-layout:images/busybox", command: [sleep, "100000"], nics: [{vlan: 30, ipv4: {address: ` + addr + `/24}}], stop-timeout: 1s}
api:
  listen: ":8443"
  token: ` + apiToken + `
`
}

// TestRunTrunk runs two boxes with `nucbox run --trunk` on one machine:
// a container on VLAN 30 of one reaches the container on VLAN 30 of the
// other through the trunk, as two boxes on one lab switch would.
func TestRunTrunk(t *testing.T) {
	harness.Require(t)
	bin := harness.Nucbox(t)
	oci := busyboxLayout(t)
	trunk := fmt.Sprintf("e2e-%d", os.Getpid())
	cache, platformCache := t.TempDir(), harness.CacheDir(t, "platform")
	start := func(name, cfg string) *termRun {
		p := harness.WriteConfig(t, name+".yaml", cfg)
		return startInTerminal(t, name, bin, "run", p, "--trunk="+trunk, "--cache", cache, "--platform-cache", platformCache,
			"--accel", "tcg", "--memory", "1024", "--cpus", "1", "--add-file", guestState+"/images/busybox="+oci)
	}
	a := start("trunk-a", trunkConfig("trunk-a", "ct30a", "10.0.30.1"))
	b := start("trunk-b", trunkConfig("trunk-b", "ct30b", "10.0.30.2"))
	client := func(r *termRun) *api.Client {
		m := r.expect(t, 4*time.Minute, `nucbox status --host (https://127\.0\.0\.1:\d+) --token (\S+) --fingerprint ([0-9A-F:]{95})`)
		c, err := api.NewClient(api.ClientOptions{Host: m[1], Token: m[2], Fingerprint: m[3]})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a.expect(t, time.Minute, `on trunk "`+trunk+`"`)
	ca, cb := client(a), client(b)
	probe := func(c *api.Client, from, to string) api.ProbeResult {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			res, err := c.Probe(context.Background(), api.ProbeRequest{From: from, Kind: "ping", Target: to})
			if err != nil {
				t.Fatalf("probe from %s: %v", from, err)
			}
			if res.OK || time.Now().After(deadline) {
				t.Logf("%s pings %s: ok=%t %s (%.1f ms)", from, to, res.OK, res.Detail, res.MS)
				return res
			}
		}
	}
	if res := probe(ca, "ct30a", "10.0.30.2"); !res.OK {
		t.Errorf("ct30a on box A did not reach ct30b on box B over the trunk's VLAN 30: %s", res.Detail)
	}
	if res := probe(cb, "ct30b", "10.0.30.1"); !res.OK {
		t.Errorf("ct30b on box B did not reach ct30a on box A: %s", res.Detail)
	}
	a.quit(t)
	b.quit(t)
}
