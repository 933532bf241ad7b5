package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
)

const cliToken = "cli-test-token-0123456789"

// testBox is the box behind the CLI tests: a fixed state, so that the
// output can be compared with golden files.
type testBox struct {
	mu      sync.Mutex
	power   []api.PowerAction
	applied []string
	try     *api.TryState
}

var testStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const testRunning = `hostname: lab1
uplink:
  interface: auto
  bridge: br0
  ipv4: dhcp
  vlans: [20]
containers:
  - name: web
    image: docker.io/library/nginx:1.27
    nics: [{vlan: 20, ipv4: dhcp}]
`

func (b *testBox) State() api.BoxState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return api.BoxState{Hostname: "lab1", Phase: "ready", Uptime: api.Duration(95 * time.Second),
		Summary: json.RawMessage(`{"hostname":"lab1","init_ms":812,"ready_ms":3456,"rss_kib":12000,"modules":21}`), Try: b.try}
}

func (b *testBox) Workloads() []api.Workload {
	return []api.Workload{
		{Kind: "container", Name: "web", State: "running", PID: 321, Started: testStart.Add(-150 * time.Second), Restarts: 1, Addresses: []string{"10.0.20.5/24"}},
		{Kind: "vm", Name: "ubuntu1", State: "backoff", Restarts: 3, LastError: "qemu exited with status 1"},
	}
}

func (b *testBox) RunningConfig() (api.ConfigInfo, bool) {
	s := sha256.Sum256([]byte(testRunning))
	return api.ConfigInfo{Source: "/etc/nucbox/config.yaml", SHA256: hexOf(s[:]), Text: testRunning}, true
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func (b *testBox) Log(ctx context.Context, name string, follow bool) ([]api.LogLine, <-chan api.LogLine, bool) {
	if name != api.BootLog {
		return nil, nil, false
	}
	lines := []api.LogLine{
		{Seq: 1, Time: 812 * time.Millisecond, Text: "nucbox: starting as PID 1"},
		{Seq: 2, Time: 3456 * time.Millisecond, Text: "nucbox: ready {}"},
	}
	if !follow {
		return lines, nil, true
	}
	// The stream ends after one more line, as when the box shuts down.
	ch := make(chan api.LogLine, 1)
	ch <- api.LogLine{Seq: 3, Time: 10 * time.Second, Text: "nucbox: powering off (test)"}
	close(ch)
	return lines, ch, true
}

func (b *testBox) Power(a api.PowerAction, reason string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.power = append(b.power, a)
	return nil
}

func (b *testBox) Apply(name string, data []byte, try time.Duration) (api.ApplyResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.try != nil {
		return api.ApplyResult{}, api.ErrBusy
	}
	b.applied = append(b.applied, name)
	running, _ := b.RunningConfig()
	s := sha256.Sum256(data)
	res := api.ApplyResult{Previous: running.SHA256, Config: hexOf(s[:])}
	if try > 0 {
		b.try = &api.TryState{Config: res.Config, Previous: res.Previous, Deadline: testStart.Add(try)}
		res.Try = b.try
	}
	return res, nil
}

// EnablePort enables web.0, err-disabled by a BPDU.
func (b *testBox) EnablePort(name string) (*api.ErrDisabledPort, error) {
	if name != "web.0" {
		return nil, api.ErrNoPort
	}
	return &api.ErrDisabledPort{Port: "web.0", Link: "v-web-0", Reason: "BPDU", Source: "02:00:00:00:00:01", Since: testStart}, nil
}

func (b *testBox) Confirm() (api.TryState, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.try == nil {
		return api.TryState{}, api.ErrNoTry
	}
	t := *b.try
	b.try = nil
	return t, nil
}

func testLinks() ([]api.Link, error) {
	return []api.Link{
		{Name: "lo", Index: 1, Type: "device", MTU: 65536, State: "unknown", Addresses: []string{"127.0.0.1/8", "::1/128"}},
		{Name: "eth0", Index: 2, Type: "device", MAC: "52:54:00:12:34:56", State: "up", Master: "br0", VLANs: []api.PortVLAN{{ID: 1, PVID: true, Untagged: true}, {ID: 20}}},
		{Name: "br0", Index: 3, Type: "bridge", MAC: "52:54:00:12:34:56", State: "up", Addresses: []string{"10.0.2.15/24"}},
		{Name: "v-web-0", Index: 4, Type: "veth", MAC: "fe:bd:0f:a5:64:a2", State: "up", Master: "br0", Port: "web.0",
			VLANs: []api.PortVLAN{{ID: 20, PVID: true, Untagged: true}},
			Stats: api.LinkStats{RxBytes: 1200, RxPackets: 12, TxBytes: 3400, TxPackets: 30, TxDropped: 2}},
	}, nil
}

func testSwitch() (*api.SwitchState, error) {
	return &api.SwitchState{
		FDB: []api.FDBEntry{
			{Bridge: "br0", MAC: "52:54:00:12:34:56", Port: "eth0", VLAN: 1, Local: true},
			{Bridge: "br0", MAC: "8e:bd:0f:a5:64:a2", Port: "v-web-0", VLAN: 20},
		},
		Policy: []api.PolicyCounter{
			{Chain: "out-v-web-0", Rule: "spoof-guard: ether saddr != 8e:bd:0f:a5:64:a2 drop", Packets: 5, Bytes: 300, Drop: true},
			{Chain: "out-v-web-0", Rule: "out: meta l4proto tcp th dport 25 drop", Packets: 1, Bytes: 60, Drop: true},
		},
	}, nil
}

// startBox serves the real API handler for testBox over TLS.
func startBox(t *testing.T) (*testBox, *httptest.Server) {
	t.Helper()
	box := &testBox{}
	return box, serveBox(t, box)
}

func TestRemoteGolden(t *testing.T) {
	saved := now
	now = func() time.Time { return testStart }
	defer func() { now = saved }()
	box, ts := startBox(t)
	fp := api.Fingerprint(ts.Certificate().Raw)
	t.Setenv("NUCBOX_TOKEN", "")

	dir := t.TempDir()
	added := filepath.Join(dir, "next.yaml")
	os.WriteFile(added, []byte(strings.Replace(testRunning, "containers:\n", "vms:\n  - name: ubuntu1\n    memory: 1GiB\n    disks: [{path: u.qcow2, size: 2GiB}]\n    nics: [{vlan: 20}]\ncontainers:\n", 1)), 0o644)
	same := filepath.Join(dir, "same.yaml")
	os.WriteFile(same, []byte(testRunning), 0o644)
	policyOnly := filepath.Join(dir, "policy.yaml")
	os.WriteFile(policyOnly, []byte(strings.Replace(testRunning, "ipv4: dhcp}]", "ipv4: dhcp, policy: {rules: [{action: deny, proto: tcp, port: 22}]}}]", 1)), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("hostname: Bad_Name\nuplink:\n  colour: blue\n"), 0o644)

	tests := []goldenCase{
		{"status-help", []string{"status", "--help"}, 0},
		{"logs-help", []string{"logs", "--help"}, 0},
		{"poweroff-help", []string{"poweroff", "--help"}, 0},
		{"reboot-help", []string{"reboot", "--help"}, 0},
		{"apply-help", []string{"apply", "--help"}, 0},
		{"status", []string{"status", "--host", "HOST", "--token", cliToken, "--insecure"}, 0},
		{"status-fingerprint", []string{"status", "--host", "HOST", "--token", cliToken, "--fingerprint", "FP"}, 0},
		{"status-json", []string{"status", "--host", "HOST", "--token", cliToken, "--insecure", "-o", "json"}, 0},
		{"status-no-token", []string{"status", "--host", "HOST", "--insecure"}, 1},
		{"status-wrong-token", []string{"status", "--host", "HOST", "--token", "wrong-token-0123456789", "--insecure"}, 1},
		{"status-http", []string{"status", "--host", "http://127.0.0.1:1", "--token", cliToken}, 2},
		{"status-bad-fingerprint", []string{"status", "--host", "HOST", "--fingerprint", "12:34"}, 2},
		{"logs", []string{"logs", "--host", "HOST", "--token", cliToken, "--insecure"}, 0},
		{"logs-tail-json", []string{"logs", "boot", "--host", "HOST", "--token", cliToken, "--insecure", "--tail", "1", "-o", "json"}, 0},
		{"logs-follow", []string{"logs", "-f", "--host", "HOST", "--token", cliToken, "--insecure"}, 1},
		{"logs-unknown", []string{"logs", "nosuch", "--host", "HOST", "--token", cliToken, "--insecure"}, 1},
		{"apply-dry-run", []string{"apply", added, "--dry-run", "--host", "HOST", "--token", cliToken, "--insecure"}, 0},
		{"apply-policy-dry-run", []string{"apply", policyOnly, "--dry-run", "--host", "HOST", "--token", cliToken, "--insecure"}, 0},
		{"apply-same", []string{"apply", same, "--dry-run", "--host", "HOST", "--token", cliToken, "--insecure"}, 0},
		{"apply-basic", []string{"apply", "../../examples/basic.yaml", "--dry-run", "--host", "HOST", "--token", cliToken, "--insecure"}, 0},
		{"apply-invalid", []string{"apply", bad, "--dry-run", "--host", "HOST", "--token", cliToken, "--insecure"}, 1},
		{"apply", []string{"apply", added, "--host", "HOST", "--token", cliToken, "--insecure"}, 0},
		{"apply-confirm-none", []string{"apply", "--confirm", "--host", "HOST", "--token", cliToken, "--insecure"}, 1},
		{"apply-try", []string{"apply", added, "--try", "20s", "--host", "HOST", "--token", cliToken, "--insecure"}, 0},
		{"status-try", []string{"status", "--host", "HOST", "--token", cliToken, "--insecure"}, 0},
		{"apply-during-try", []string{"apply", same, "--host", "HOST", "--token", cliToken, "--insecure"}, 1},
		{"apply-confirm", []string{"apply", "--confirm", "--host", "HOST", "--token", cliToken, "--insecure"}, 0},
		{"apply-try-json", []string{"apply", same, "--try", "1m", "--host", "HOST", "--token", cliToken, "--insecure", "-o", "json"}, 0},
		{"apply-confirm-json", []string{"apply", "--confirm", "--host", "HOST", "--token", cliToken, "--insecure", "-o", "json"}, 0},
		{"apply-invalid-live", []string{"apply", bad, "--host", "HOST", "--token", cliToken, "--insecure"}, 1},
		{"apply-confirm-file", []string{"apply", same, "--confirm"}, 2},
		{"apply-dry-run-try", []string{"apply", same, "--dry-run", "--try", "1m"}, 2},
		{"apply-no-file", []string{"apply", "--host", "HOST", "--token", cliToken, "--insecure"}, 2},
		{"port-enable", []string{"port", "enable", "web.0", "--host", "HOST", "--token", cliToken, "--insecure"}, 0},
		{"port-enable-unknown", []string{"port", "enable", "db.3", "--host", "HOST", "--token", cliToken, "--insecure"}, 1},
		{"reboot", []string{"reboot", "--host", "HOST", "--token", cliToken, "--insecure"}, 0},
		{"poweroff-json", []string{"poweroff", "--host", "HOST", "--token", cliToken, "--insecure", "-o", "json"}, 0},
	}
	runGolden(t, "remote-", tests, strings.NewReplacer("HOST", ts.URL, "FP", fp), strings.NewReplacer(ts.URL, "https://HOST", dir, "TMP"))
	box.mu.Lock()
	defer box.mu.Unlock()
	if len(box.power) != 2 || box.power[0] != api.Reboot || box.power[1] != api.PowerOff {
		t.Errorf("power requests %v, want [reboot poweroff]", box.power)
	}
	if strings.Join(box.applied, " ") != "next.yaml next.yaml same.yaml" {
		t.Errorf("applied %v, want [next.yaml next.yaml same.yaml]", box.applied)
	}
}

func TestLocalSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "nucbox-cli")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "api.sock")
	srv := api.New(api.Options{Box: &testBox{}, Links: testLinks})
	go srv.ServeUnix(sock)
	defer srv.Close()
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stdout, stderr, code := run("status", "--socket", sock)
	if code != 0 || !strings.HasPrefix(stdout, "lab1: ready") {
		t.Errorf("status through the socket: code %d\n%s%s", code, stdout, stderr)
	}
	_, stderr, code = run("status", "--socket", sock, "--insecure")
	if code != 2 {
		t.Errorf("--insecure without --host: code %d, want 2\n%s", code, stderr)
	}
}
