package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWorkloadActions(t *testing.T) {
	box := newFakeBox()
	_, ts := newTestServer(t, box, false)
	auth := "Bearer " + testToken

	resp, body := do(t, "POST", ts.URL+"/v1/workloads/web/stop", auth, "")
	var wr WorkloadResponse
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &wr) != nil || wr.Action != WorkloadStop || wr.Workload.State != "stopped" || !wr.Workload.Held {
		t.Fatalf("stop: %d\n%s", resp.StatusCode, body)
	}
	_, body = do(t, "GET", ts.URL+"/v1/status", auth, "")
	var st Status
	json.Unmarshal([]byte(body), &st)
	if w := st.Workloads[1]; w.Name != "web" || w.State != "stopped" || !w.Held {
		t.Errorf("status after stop: %+v", w)
	}
	resp, body = do(t, "POST", ts.URL+"/v1/workloads/web/start", auth, "")
	if wr = (WorkloadResponse{}); json.Unmarshal([]byte(body), &wr) != nil || resp.StatusCode != 200 || wr.Workload.State != "running" || wr.Workload.Held {
		t.Errorf("start: %d\n%s", resp.StatusCode, body)
	}
	resp, body = do(t, "POST", ts.URL+"/v1/workloads/web/restart", auth, "")
	if wr = (WorkloadResponse{}); json.Unmarshal([]byte(body), &wr) != nil || resp.StatusCode != 200 || wr.Workload.Restarts != 2 {
		t.Errorf("restart: %d\n%s", resp.StatusCode, body)
	}

	resp, body = do(t, "POST", ts.URL+"/v1/workloads/nosuch/stop", auth, "")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `no VM or container named \"nosuch\"`) {
		t.Errorf("unknown workload: %d\n%s", resp.StatusCode, body)
	}
	resp, body = do(t, "POST", ts.URL+"/v1/workloads/web/pause", auth, "")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "use start, stop or restart") {
		t.Errorf("unknown action: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = do(t, "GET", ts.URL+"/v1/workloads/web/stop", auth, "")
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET of an action: %d, want 405", resp.StatusCode)
	}
	for _, a := range []string{"", "Bearer wrong-token-0123456789abcdef"} {
		resp, body = do(t, "POST", ts.URL+"/v1/workloads/web/stop", a, "")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("stop with %q: %d\n%s", a, resp.StatusCode, body)
		}
	}
	if got := strings.Join(box.actionLog(), ", "); got != "stop web, start web, restart web" {
		t.Errorf("actions run: %s", got)
	}
}

func TestWorkloadActionsNeedAController(t *testing.T) {
	ts := httptest.NewServer(New(Options{Box: readOnlyBox{newFakeBox()}, Token: testToken, Links: fakeLinks}))
	defer ts.Close()
	if resp, body := do(t, "POST", ts.URL+"/v1/workloads/web/stop", "Bearer "+testToken, ""); resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("stop without a controller: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := consoleRequest(t, ts.URL, "ubuntu1", "Bearer "+testToken, nil); resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("console without a Consoler: %d\n%s", resp.StatusCode, body)
	}
}

// TestWorkloadLogFollow follows a container's log: a line added after the
// request was answered reaches the client.
func TestWorkloadLogFollow(t *testing.T) {
	box := newFakeBox()
	_, ts := newTestServer(t, box, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/v1/logs/web?follow=1", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	next := func() LogLine {
		t.Helper()
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var l LogLine
				if err := json.Unmarshal([]byte(d), &l); err != nil {
					t.Fatal(err)
				}
				return l
			}
		}
		t.Fatalf("the stream ended: %v", sc.Err())
		return LogLine{}
	}
	if l := next(); l.Text != "[nucbox] started pid 321" {
		t.Errorf("backlog line %+v", l)
	}
	// The backlog has arrived, so the stream is open: a later line follows.
	box.webFollow <- LogLine{Seq: 2, Text: "GET / 200"}
	if l := next(); l.Seq != 2 || l.Text != "GET / 200" {
		t.Errorf("followed line %+v", l)
	}
}

// consoleRequest asks for the console; with a 101 the body is the
// bidirectional stream.
func consoleRequest(t *testing.T, base, name, auth string, hc *http.Client) (*http.Response, string) {
	t.Helper()
	if hc == nil {
		hc = http.DefaultClient
	}
	req, _ := http.NewRequest("GET", base+"/v1/console/"+name, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", ConsoleProtocol)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return resp, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestConsole(t *testing.T) {
	box := newFakeBox()
	box.setWorkloadState("ubuntu1", "running")
	s := New(Options{Box: box, Token: testToken, Links: fakeLinks, Logf: t.Logf})
	// Over TLS, as from another machine.
	ts := httptest.NewTLSServer(s)
	defer ts.Close()
	hc := ts.Client()
	auth := "Bearer " + testToken

	for _, a := range []string{"", "Bearer wrong-token-0123456789abcdef"} {
		if resp, body := consoleRequest(t, ts.URL, "ubuntu1", a, hc); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("console with %q: %d\n%s", a, resp.StatusCode, body)
		}
	}
	if resp, body := consoleRequest(t, ts.URL, "nosuch", auth, hc); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `no VM named \"nosuch\"`) {
		t.Errorf("unknown VM: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := consoleRequest(t, ts.URL, "web", auth, hc); resp.StatusCode != http.StatusNotFound {
		t.Errorf("console of a container: %d\n%s", resp.StatusCode, body)
	}

	resp, body := consoleRequest(t, ts.URL, "ubuntu1", auth, hc)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("console: %d\n%s", resp.StatusCode, body)
	}
	rw, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		t.Fatalf("the upgraded body is a %T, not writable", resp.Body)
	}
	defer rw.Close()
	if _, err := rw.Write([]byte("hello\r")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 0, 16)
	buf := make([]byte, 16)
	for len(got) < len("HELLO\r") {
		n, err := rw.Read(buf)
		if err != nil {
			t.Fatalf("reading the console: %v (got %q)", err, got)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "HELLO\r" {
		t.Errorf("console answered %q", got)
	}

	// Closing the server ends an open console.
	s.Close()
	ended := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(rw)
		ended <- err
	}()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the console stayed open after the server closed")
	}
	box.setWorkloadState("ubuntu1", "stopped")
	if resp, body := consoleRequest(t, ts.URL, "ubuntu1", auth, hc); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "not running") {
		t.Errorf("console of a stopped VM: %d\n%s", resp.StatusCode, body)
	}
}

func TestStatusLeases(t *testing.T) {
	box := newFakeBox()
	exp := time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)
	box.lease = &Lease{Link: "br0", Address: "10.0.2.15/24", Server: "10.0.2.2", State: "bound", Obtained: exp.Add(-time.Hour), Renew: exp.Add(-30 * time.Minute), Expiry: exp}
	box.workloads[0].Leases = []Lease{{Link: "eth0", Address: "10.0.20.5/24", Server: "10.0.20.1", State: "bound", Expiry: exp}}
	_, ts := newTestServer(t, box, false)
	_, body := do(t, "GET", ts.URL+"/v1/status", "Bearer "+testToken, "")
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if l := st.UplinkLease; l == nil || l.Server != "10.0.2.2" || !l.Expiry.Equal(exp) || l.Renew.IsZero() {
		t.Errorf("uplink lease: %+v", l)
	}
	if ls := st.Workloads[1].Leases; len(ls) != 1 || ls[0].Address != "10.0.20.5/24" || !ls[0].Expiry.Equal(exp) {
		t.Errorf("container leases: %+v", ls)
	}
	for _, key := range []string{`"uplink_lease"`, `"expiry"`, `"obtained"`, `"renew"`, `"server"`} {
		if !strings.Contains(body, key) {
			t.Errorf("status JSON lacks %s", key)
		}
	}
}

// TestMetricsUsage: a box that measures a workload itself (a container's
// cgroup) is preferred over the process's /proc entry.
func TestMetricsUsage(t *testing.T) {
	box := newFakeBox()
	box.usage = map[string]Usage{"web": {CPU: 12.5, Memory: 7 << 20}}
	_, ts := newTestServer(t, box, false)
	_, body := do(t, "GET", ts.URL+"/metrics", "Bearer "+testToken, "")
	for _, want := range []string{
		`nucbox_workload_cpu_seconds_total{kind="container",name="web"} 12.5`,
		`nucbox_workload_resident_memory_bytes{kind="container",name="web"} 7.340032e+06`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
