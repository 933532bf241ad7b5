package main

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/test/syncbuf"
)

// ctlBox is testBox with workloads that start and stop, a VM console, a
// followed container log and DHCP leases.
type ctlBox struct {
	*testBox
	mu       sync.Mutex
	web      api.Workload
	webLines chan api.LogLine
	typed    bytes.Buffer
}

func newCtlBox() *ctlBox {
	return &ctlBox{
		testBox: &testBox{},
		web: api.Workload{Kind: "container", Name: "web", State: "running", PID: 321, Started: testStart.Add(-150 * time.Second), Restarts: 1,
			Addresses: []string{"10.0.20.5/24"},
			Leases: []api.Lease{{Link: "eth0", Address: "10.0.20.5/24", Server: "10.0.20.1", State: "bound",
				Obtained: testStart.Add(-150 * time.Second), Renew: testStart.Add(30 * time.Minute), Rebind: testStart.Add(50 * time.Minute), Expiry: testStart.Add(time.Hour)}}},
		webLines: make(chan api.LogLine, 4),
	}
}

func (b *ctlBox) Workloads() []api.Workload {
	b.mu.Lock()
	defer b.mu.Unlock()
	return []api.Workload{b.web, {Kind: "vm", Name: "ubuntu1", State: "running", PID: 99, Started: testStart.Add(-time.Hour),
		Details: map[string]string{"vnc": api.VNCPath("ubuntu1")}}}
}

func (b *ctlBox) Control(ctx context.Context, name string, a api.WorkloadAction) (api.Workload, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if name != "web" {
		return api.Workload{}, api.ErrNoWorkload
	}
	switch a {
	case api.WorkloadStop:
		b.web.State, b.web.PID, b.web.Held, b.web.Started, b.web.Leases = "stopped", 0, true, time.Time{}, nil
	case api.WorkloadStart:
		b.web.State, b.web.PID, b.web.Held = "running", 400, false
	case api.WorkloadRestart:
		b.web.State, b.web.PID, b.web.Held = "running", 401, false
		b.web.Restarts++
	}
	return b.web, nil
}

func (b *ctlBox) UplinkLease() *api.Lease {
	return &api.Lease{Link: "br0", Address: "10.0.2.15/24", Server: "10.0.2.2", Router: "10.0.2.2", State: "bound",
		Obtained: testStart.Add(-95 * time.Second), Renew: testStart.Add(12 * time.Hour), Rebind: testStart.Add(21 * time.Hour), Expiry: testStart.Add(24 * time.Hour)}
}

func (b *ctlBox) UplinkLease6() *api.Lease {
	return &api.Lease{Link: "br0", Address: "2001:db8::100/128", State: "bound",
		Obtained: testStart.Add(-95 * time.Second), Renew: testStart.Add(30 * time.Minute), Expiry: testStart.Add(2 * time.Hour)}
}

func (b *ctlBox) Log(ctx context.Context, name string, follow bool) ([]api.LogLine, <-chan api.LogLine, bool) {
	if name != "web" {
		return b.testBox.Log(ctx, name, follow)
	}
	lines := []api.LogLine{{Seq: 1, Text: "[nucbox] started pid 321"}}
	if !follow {
		return lines, nil, true
	}
	return lines, b.webLines, true
}

// Console echoes what is typed, in capitals, and keeps it.
func (b *ctlBox) Console(name string) (io.ReadWriteCloser, error) {
	if name != "ubuntu1" {
		return nil, api.ErrNoWorkload
	}
	r, w := io.Pipe()
	return &echoCon{b: b, r: r, w: w}, nil
}

type echoCon struct {
	b *ctlBox
	r *io.PipeReader
	w *io.PipeWriter
}

func (c *echoCon) Read(p []byte) (int, error) { return c.r.Read(p) }
func (c *echoCon) Write(p []byte) (int, error) {
	c.b.mu.Lock()
	c.b.typed.Write(p)
	c.b.mu.Unlock()
	return c.w.Write(bytes.ToUpper(p))
}
func (c *echoCon) Close() error {
	c.r.Close()
	return c.w.Close()
}

func startCtlBox(t *testing.T) (*ctlBox, *httptest.Server) {
	t.Helper()
	box := newCtlBox()
	return box, serveBox(t, box)
}

func TestWorkloadGolden(t *testing.T) {
	saved := now
	now = func() time.Time { return testStart }
	defer func() { now = saved }()
	_, ts := startCtlBox(t)
	t.Setenv("NUCBOX_TOKEN", "")
	tests := []goldenCase{
		{"start-help", []string{"start", "--help"}, 0},
		{"stop-help", []string{"stop", "--help"}, 0},
		{"restart-help", []string{"restart", "--help"}, 0},
		{"console-help", []string{"console", "--help"}, 0},
		{"vnc-help", []string{"vnc", "--help"}, 0},
		{"status-leases", []string{"status", "--host", "HOST", "--token", cliToken, "--insecure"}, 0},
		{"stop", []string{"stop", "web", "--host", "HOST", "--token", cliToken, "--insecure"}, 0},
		{"status-stopped", []string{"status", "--host", "HOST", "--token", cliToken, "--insecure"}, 0},
		{"start", []string{"start", "web", "--host", "HOST", "--token", cliToken, "--insecure"}, 0},
		{"restart-json", []string{"restart", "web", "--host", "HOST", "--token", cliToken, "--insecure", "-o", "json"}, 0},
		{"stop-unknown", []string{"stop", "nosuch", "--host", "HOST", "--token", cliToken, "--insecure"}, 1},
		{"stop-no-token", []string{"stop", "web", "--host", "HOST", "--insecure"}, 1},
		{"stop-no-name", []string{"stop"}, 2},
		{"console-unknown", []string{"console", "nosuch", "--host", "HOST", "--token", cliToken, "--insecure"}, 1},
		{"console-wrong-token", []string{"console", "ubuntu1", "--host", "HOST", "--token", "wrong-token-0123456789", "--insecure"}, 1},
	}
	runGolden(t, "remote-", tests, strings.NewReplacer("HOST", ts.URL), strings.NewReplacer(ts.URL, "https://HOST"))
}

// runAsync runs the CLI in the background with in as its input.
func runAsync(ctx context.Context, in io.Reader, args ...string) (stdout, stderr *syncbuf.Buffer, done <-chan error) {
	stdout, stderr = &syncbuf.Buffer{}, &syncbuf.Buffer{}
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(in)
	root.SetOut(stdout)
	root.SetErr(stderr)
	ch := make(chan error, 1)
	go func() { ch <- root.ExecuteContext(ctx) }()
	return stdout, stderr, ch
}

func waitText(t *testing.T, what string, buf *syncbuf.Buffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %s after 10s:\n%s", want, what, buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLogsFollowWorkload(t *testing.T) {
	box, ts := startCtlBox(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr, done := runAsync(ctx, strings.NewReader(""), "logs", "web", "-f", "--host", ts.URL, "--token", cliToken, "--insecure")
	waitText(t, "the output", stdout, "started pid 321")
	box.webLines <- api.LogLine{Seq: 2, Time: 5 * time.Second, Text: "GET / 200"}
	waitText(t, "the output", stdout, "GET / 200")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("logs -f ended with %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("logs -f did not end after its context did")
	}
}

func TestConsoleSession(t *testing.T) {
	box, ts := startCtlBox(t)
	in, typing := io.Pipe()
	defer typing.Close()
	stdout, stderr, done := runAsync(context.Background(), in, "console", "ubuntu1", "--host", ts.URL, "--token", cliToken, "--insecure")
	waitText(t, "the messages", stderr, "Press ctrl-] to detach")
	typing.Write([]byte("uname\r"))
	waitText(t, "the console", stdout, "UNAME\r")
	// Text before the detach key in the same read still goes out.
	typing.Write([]byte("ls\x1dnot sent"))
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("console ended with %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ctrl-] did not detach")
	}
	if !strings.Contains(stderr.String(), "Detached from ubuntu1") {
		t.Errorf("no detach message:\n%s", stderr.String())
	}
	// The box reads the last keys after the client left.
	typed := func() string {
		box.mu.Lock()
		defer box.mu.Unlock()
		return box.typed.String()
	}
	deadline := time.Now().Add(10 * time.Second)
	for typed() != "uname\rls" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := typed(); got != "uname\rls" {
		t.Errorf("the guest got %q, want %q", got, "uname\rls")
	}
}
