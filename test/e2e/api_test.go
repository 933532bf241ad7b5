package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/test/harness"
)

// apiToken is the token the API test writes into its config, so that the
// host side knows it without reading the console.
const apiToken = "e2e-api-token-0123456789abcdef"

// cli runs the nucbox binary on the host and returns its stdout, stderr
// and exit status.
func cli(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "NUCBOX_TOKEN=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", bin, err)
	}
	t.Logf("$ nucbox %s -> %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	return out.String(), errb.String(), code
}

// apiUplink is the part of a config that makes a box the host can drive
// with the CLI: a DHCP uplink for the user network and the TLS API on the
// port and token that apiReady and the tests expect.
const apiUplink = `uplink:
  interface: auto
  bridge: br0
  ipv4: dhcp
api:
  listen: ":8443"
  token: ` + apiToken + `
`

// apiReady waits until m's TLS API listens (it is announced before the
// stages run) and the box is ready. It returns the CLI arguments that
// reach the API through the forwarded port 8443, checking the
// certificate against the fingerprint the box printed, and the ready
// line.
func apiReady(t *testing.T, m *harness.Machine, timeout time.Duration) ([]string, harness.ReadyInfo) {
	t.Helper()
	fp := m.MustExpect(timeout, `nucbox: api: listening on :8443 \(TLS, certificate SHA-256 ([0-9A-F:]{95})\)`)[1]
	ri := m.ExpectReady(timeout)
	return []string{"--host", "https://" + m.HostAddr(8443), "--token", apiToken, "--fingerprint", fp}, ri
}

// bootContainerBox builds an image of cfg, written to name, with the
// busybox layout its containers run from, boots it with the API
// forwarded, and returns the machine once ready, the CLI and the
// arguments that reach the box.
func bootContainerBox(t *testing.T, name, cfg string) (m *harness.Machine, bin string, remote []string) {
	t.Helper()
	start := time.Now()
	oci := busyboxLayout(t)
	cfgPath := harness.WriteConfig(t, name, cfg)
	img := harness.BuildImage(t, cfgPath, harness.BuildArgs("--add-file", guestState+"/images/busybox="+oci))
	bin = harness.Nucbox(t)
	m = img.Boot(t, harness.Options{NICs: []harness.NIC{{User: &harness.UserNet{
		Forward: []harness.Forward{{GuestPort: 8443}},
	}}}})
	remote, _ = apiReady(t, m, readyTimeout)
	t.Logf("ready after %.1fs", time.Since(start).Seconds())
	return m, bin, remote
}

// apiClient talks to the box's API directly; the box's certificate is
// self-signed, and what the tests check is the answer, not the TLS.
func apiClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
}

// checkMetrics fetches host's /metrics with the token and reports each
// wanted series that is missing.
func checkMetrics(t *testing.T, hc *http.Client, host string, want ...string) {
	t.Helper()
	req, _ := http.NewRequest("GET", host+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := hc.Do(req)
	if err != nil {
		t.Errorf("metrics: %v", err)
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, w := range want {
		if !strings.Contains(string(b), w) {
			t.Errorf("metrics (%d) lack %q", resp.StatusCode, w)
		}
	}
}

// unreachable is what the CLI says when it cannot connect at all.
const unreachable = "cannot reach the box"

// cliRetry is cli for the first command after the box is ready: ready
// means the network stage has run, but the user network's forward may
// still have to reach the address, so it tries again for a while as long
// as the box cannot be reached.
func cliRetry(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		stdout, stderr, code = cli(t, bin, args...)
		if code == 0 || !strings.Contains(stderr, unreachable) || !time.Now().Before(deadline) {
			return stdout, stderr, code
		}
	}
}

// pollStatus runs nucbox status until want accepts the box's status and
// returns it. It fails t when the status has not come within timeout, or
// on any failure other than the box not being reachable yet.
func pollStatus(t *testing.T, bin string, remote []string, what string, timeout time.Duration, want func(*api.Status) bool) *api.Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		stdout, stderr, code := cli(t, bin, append([]string{"status", "-o", "json"}, remote...)...)
		if code == 0 {
			var st api.Status
			if err := json.Unmarshal([]byte(stdout), &st); err != nil {
				t.Fatalf("status JSON: %v\n%s", err, stdout)
			}
			if want(&st) {
				return &st
			}
		} else if !strings.Contains(stderr, unreachable) {
			t.Fatalf("status: exit %d\n%s", code, stderr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last status:\n%s%s", what, timeout, stdout, stderr)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestAPIFromHost boots the basic box with the TLS API on a forwarded
// port and uses the CLI from the host: status, logs, a dry-run apply, a
// wrong token, and poweroff through the API.
func TestAPIFromHost(t *testing.T) {
	harness.Require(t)
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	basic, err := os.ReadFile(filepath.Join(root, basicConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(basic) + "\napi:\n  listen: \":8443\"\n  token: " + apiToken + "\n"
	cfgPath := harness.WriteConfig(t, "api.yaml", cfg)
	img := harness.BuildImage(t, cfgPath)
	bin := harness.Nucbox(t)
	m := img.Boot(t, harness.Options{NICs: []harness.NIC{{User: &harness.UserNet{
		Forward: []harness.Forward{{GuestPort: 8443}},
	}}}})

	remote, ri := apiReady(t, m, readyTimeout)
	host := "https://" + m.HostAddr(8443)

	stdout, stderr, code := cliRetry(t, bin, append([]string{"status", "-o", "json"}, remote...)...)
	if code != 0 {
		out, _ := m.Shell(shellTimeout, "/sbin/ip -brief addr 2>/dev/null || ip addr")
		t.Fatalf("nucbox status from the host failed (%d):\n%s\nthe box's addresses:\n%s", code, stderr, out)
	}
	var st api.Status
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, stdout)
	}
	if st.Hostname != ri.Hostname || st.Phase != "ready" {
		t.Errorf("status hostname %q phase %q, want %q ready", st.Hostname, st.Phase, ri.Hostname)
	}
	if st.Config == nil || st.Config.SHA256 != ri.Config {
		t.Errorf("status config %+v, want sha256 %s from the ready line", st.Config, ri.Config)
	}
	addrs := ""
	for _, l := range st.Links {
		addrs += " " + strings.Join(l.Addresses, " ")
	}
	if !strings.Contains(addrs, "10.0.2.") {
		t.Errorf("no user-network address among the links:%s", addrs)
	}

	stdout, _, code = cli(t, bin, append([]string{"status"}, remote...)...)
	if code != 0 || !strings.HasPrefix(stdout, ri.Hostname+": ready\n") {
		t.Errorf("human status: %d\n%s", code, stdout)
	}

	_, stderr, code = cli(t, bin, "status", "--host", host, "--token", "wrong-token-0123456789", "--insecure")
	if code != 1 || !strings.Contains(stderr, "401") {
		t.Errorf("wrong token: exit %d\n%s", code, stderr)
	}

	stdout, _, code = cli(t, bin, append([]string{"logs", "--tail", "400"}, remote...)...)
	if code != 0 || !strings.Contains(stdout, "nucbox: ready {") {
		t.Errorf("logs: exit %d, no ready line:\n%s", code, stdout)
	}

	stdout, _, code = cli(t, bin, append([]string{"apply", cfgPath, "--dry-run"}, remote...)...)
	if code != 0 || !strings.Contains(stdout, "No changes.") {
		t.Errorf("apply --dry-run of the running config: exit %d\n%s", code, stdout)
	}

	// Metrics and the page come from the same server.
	hc := apiClient()
	checkMetrics(t, hc, host, `nucbox_boot_phase{phase="ready"} 1`, `nucbox_link_receive_bytes_total{link="br0"}`, `process_resident_memory_bytes`)
	if resp, err := hc.Get(host + "/"); err != nil {
		t.Errorf("web page: %v", err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `name="token"`) {
			t.Errorf("/ without a session is not the login form (%d):\n%s", resp.StatusCode, b)
		}
	}

	if strings.Contains(m.Output(), apiToken) {
		t.Error("a token from the config was printed on the console")
	}

	stdout, _, code = cli(t, bin, append([]string{"poweroff"}, remote...)...)
	if code != 0 {
		t.Fatalf("poweroff through the API: exit %d", code)
	}
	if err := m.WaitExit(powerOffTimeout); err != nil {
		t.Fatalf("after nucbox poweroff: %v", err)
	}
	m.MustExpect(time.Second, `nucbox: powering off \(API request from `)
	m.MustExpect(time.Second, `reboot: Power down`)
}
