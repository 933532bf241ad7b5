package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newTestServer(t *testing.T, box *fakeBox, public bool) (*Server, *httptest.Server) {
	t.Helper()
	s := New(Options{Box: box, Token: testToken, PublicStatus: public, Links: fakeLinks, Logf: t.Logf})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

func do(t *testing.T, method, url, auth, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// endpoints lists every endpoint with a request that succeeds with the
// token, and what it needs without one.
var endpoints = []struct {
	method, path, body string
	ok                 int
	admin              bool // needs the token even with a session cookie
	publicWithStatus   bool // open with api.public-status
}{
	{"GET", "/v1/status", "", 200, false, true},
	{"GET", "/v1/logs/boot", "", 200, false, false},
	{"GET", "/v1/config", "", 200, true, false},
	{"POST", "/v1/plan", runningConfig, 200, true, false},
	{"POST", "/v1/apply?try=1h", runningConfig, 200, true, false},
	{"POST", "/v1/apply/confirm", "", 200, true, false},
	{"POST", "/v1/power", `{"action":"reboot"}`, 202, true, false},
	{"POST", "/v1/workloads/web/restart", "", 200, true, false},
	{"POST", "/v1/workloads/web/stop", "", 200, true, false},
	{"POST", "/v1/workloads/web/start", "", 200, true, false},
	{"GET", "/v1/logs/web", "", 200, false, false},
	// A plain GET of the console is told to upgrade.
	{"GET", "/v1/console/ubuntu1", "", 426, true, false},
	// So is a plain GET of a VM's screen (a WebSocket).
	{"GET", "/v1/vms/ubuntu1/vnc", "", 426, true, false},
	{"GET", "/metrics", "", 200, false, true},
	{"GET", "/v1/debug/pprof/heap", "", 200, true, false},
}

func TestEndpointsWithToken(t *testing.T) {
	box := newFakeBox()
	_, ts := newTestServer(t, box, false)
	for _, e := range endpoints {
		resp, body := do(t, e.method, ts.URL+e.path, "Bearer "+testToken, e.body)
		if resp.StatusCode != e.ok {
			t.Errorf("%s %s = %d, want %d\n%s", e.method, e.path, resp.StatusCode, e.ok, body)
		}
	}
	if got := box.powered(); len(got) != 1 || got[0] != Reboot {
		t.Errorf("power requests = %v, want [reboot]", got)
	}
}

func TestUnauthorized(t *testing.T) {
	box := newFakeBox()
	_, ts := newTestServer(t, box, false)
	for _, e := range endpoints {
		for _, auth := range []string{"", "Bearer wrong-token-0123456789abcdef", "Bearer " + testToken + "x", "Basic " + testToken, "Bearer"} {
			resp, body := do(t, e.method, ts.URL+e.path, auth, e.body)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s with %q = %d, want 401\n%s", e.method, e.path, auth, resp.StatusCode, body)
				continue
			}
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s: 401 without WWW-Authenticate", e.method, e.path)
			}
			var ae apiError
			if json.Unmarshal([]byte(body), &ae) != nil || ae.Error == "" {
				t.Errorf("%s %s: 401 body is not an API error: %s", e.method, e.path, body)
			}
		}
	}
	if got := box.powered(); len(got) != 0 {
		t.Errorf("unauthenticated requests powered the box: %v", got)
	}
	if got := box.appliedNames(); len(got) != 0 {
		t.Errorf("unauthenticated requests applied configs: %v", got)
	}
}

func TestPublicStatus(t *testing.T) {
	box := newFakeBox()
	_, ts := newTestServer(t, box, true)
	for _, e := range endpoints {
		resp, _ := do(t, e.method, ts.URL+e.path, "", e.body)
		want := http.StatusUnauthorized
		if e.publicWithStatus {
			want = e.ok
		}
		if resp.StatusCode != want {
			t.Errorf("public-status: %s %s without token = %d, want %d", e.method, e.path, resp.StatusCode, want)
		}
	}
	// The page itself is served, not the login form.
	_, body := do(t, "GET", ts.URL+"/", "", "")
	if !strings.Contains(body, `id="workloads"`) {
		t.Errorf("public-status: / is not the status page:\n%s", body)
	}
}

func TestSessionCookieReadsOnly(t *testing.T) {
	box := newFakeBox()
	_, ts := newTestServer(t, box, false)
	jar := &cookieJar{}
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err := c.PostForm(ts.URL+"/login", map[string][]string{"token": {"wrong-token-0123456789"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(jar.cookies) != 0 {
		t.Fatalf("login with a wrong token: %d, cookies %v", resp.StatusCode, jar.cookies)
	}
	resp, err = c.PostForm(ts.URL+"/login", map[string][]string{"token": {testToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(jar.cookies) != 1 {
		t.Fatalf("login: %d, cookies %v", resp.StatusCode, jar.cookies)
	}
	ck := jar.cookies[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || strings.Contains(ck.Value, testToken) {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict and not the token itself", ck)
	}
	for _, e := range endpoints {
		req, _ := http.NewRequest(e.method, ts.URL+e.path, strings.NewReader(e.body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := e.ok
		if e.admin {
			// Known, but not allowed: the cookie only reads.
			want = http.StatusForbidden
		}
		if resp.StatusCode != want {
			t.Errorf("with the session cookie: %s %s = %d, want %d", e.method, e.path, resp.StatusCode, want)
		}
	}
	if len(box.powered()) != 0 {
		t.Error("the session cookie powered the box")
	}
	// A cookie that is no session of this server's is refused.
	req, _ := http.NewRequest("GET", ts.URL+"/v1/status", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: strings.Repeat("0f", 32)})
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("foreign session cookie: %d, want 401", resp.StatusCode)
	}
}

type cookieJar struct{ cookies []*http.Cookie }

func (j *cookieJar) SetCookies(_ *neturl.URL, cs []*http.Cookie) {
	j.cookies = append(j.cookies, cs...)
}
func (j *cookieJar) Cookies(*neturl.URL) []*http.Cookie { return j.cookies }

func TestStatus(t *testing.T) {
	_, ts := newTestServer(t, newFakeBox(), false)
	_, body := do(t, "GET", ts.URL+"/v1/status", "Bearer "+testToken, "")
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if st.Hostname != "lab1" || st.Phase != "ready" || st.Config == nil || st.Config.SHA256 != sha([]byte(runningConfig)) {
		t.Errorf("status header: %+v", st)
	}
	if len(st.Links) != 3 || st.Links[1].Master != "br0" || len(st.Links[1].VLANs) != 2 {
		t.Errorf("links: %+v", st.Links)
	}
	if len(st.Workloads) != 2 || st.Workloads[0].Kind != "vm" || st.Workloads[1].Name != "web" || st.Workloads[1].Restarts != 1 {
		t.Errorf("workloads (VMs first): %+v", st.Workloads)
	}
	var raw map[string]any
	json.Unmarshal([]byte(body), &raw)
	if sum, _ := raw["summary"].(map[string]any); sum["ready_ms"] != float64(3456) {
		t.Errorf("boot timeline missing from summary: %v", raw["summary"])
	}
	if raw["uptime"] != float64(90) {
		t.Errorf("uptime = %v, want 90 (seconds)", raw["uptime"])
	}
}

func TestLogs(t *testing.T) {
	box := newFakeBox()
	_, ts := newTestServer(t, box, false)
	_, body := do(t, "GET", ts.URL+"/v1/logs/boot?tail=1", "Bearer "+testToken, "")
	var lr LogsResponse
	if err := json.Unmarshal([]byte(body), &lr); err != nil || len(lr.Lines) != 1 || lr.Lines[0].Seq != 2 {
		t.Errorf("tail=1: %v %s", err, body)
	}
	resp, _ := do(t, "GET", ts.URL+"/v1/logs/nosuch", "Bearer "+testToken, "")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown log: %d, want 404", resp.StatusCode)
	}
	resp, _ = do(t, "GET", ts.URL+"/v1/logs/boot?tail=x", "Bearer "+testToken, "")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad tail: %d, want 400", resp.StatusCode)
	}
}

func TestLogsFollow(t *testing.T) {
	box := newFakeBox()
	_, ts := newTestServer(t, box, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/v1/logs/boot?follow=1", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	box.follow <- LogLine{Seq: 3, Time: 4 * time.Second, Text: "nucbox: later"}
	sc := bufio.NewScanner(resp.Body)
	var got []LogLine
	for sc.Scan() && len(got) < 3 {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var l LogLine
			if err := json.Unmarshal([]byte(d), &l); err != nil {
				t.Fatal(err)
			}
			got = append(got, l)
		}
	}
	if len(got) != 3 || got[2].Text != "nucbox: later" {
		t.Errorf("streamed lines: %+v (%v)", got, sc.Err())
	}
}

func TestPower(t *testing.T) {
	box := newFakeBox()
	_, ts := newTestServer(t, box, false)
	for _, body := range []string{`{"action":"halt"}`, `not json`, `{}`} {
		resp, _ := do(t, "POST", ts.URL+"/v1/power", "Bearer "+testToken, body)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("power %s = %d, want 400", body, resp.StatusCode)
		}
	}
	resp, _ := do(t, "GET", ts.URL+"/v1/power", "Bearer "+testToken, "")
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/power = %d, want 405", resp.StatusCode)
	}
	resp, _ = do(t, "POST", ts.URL+"/v1/power", "Bearer "+testToken, `{"action":"poweroff"}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("poweroff = %d", resp.StatusCode)
	}
	if got := box.powered(); len(got) != 1 || got[0] != PowerOff {
		t.Errorf("power requests = %v", got)
	}
}

func TestConfig(t *testing.T) {
	box := newFakeBox()
	_, ts := newTestServer(t, box, false)
	_, body := do(t, "GET", ts.URL+"/v1/config", "Bearer "+testToken, "")
	var c ConfigInfo
	if err := json.Unmarshal([]byte(body), &c); err != nil || c.Text != runningConfig || c.SHA256 != sha([]byte(runningConfig)) {
		t.Errorf("config: %v %+v", err, c)
	}
	box.config = nil
	resp, _ := do(t, "GET", ts.URL+"/v1/config", "Bearer "+testToken, "")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("no config: %d, want 404", resp.StatusCode)
	}
}

func TestPlanDiff(t *testing.T) {
	_, ts := newTestServer(t, newFakeBox(), false)
	next := strings.Replace(runningConfig, "containers:\n", `vms:
  - name: ubuntu1
    memory: 1GiB
    disks: [{path: ubuntu1.qcow2, size: 2GiB}]
    nics: [{vlan: 20}]
containers:
`, 1)
	next = strings.Replace(next, "nginx:1.27", "nginx:1.28", 1)
	next = strings.Replace(next, "test-token-0123456789abcdef", "another-token-0123456789abc", 1)
	resp, body := do(t, "POST", ts.URL+"/v1/plan", "Bearer "+testToken, next)
	if resp.StatusCode != 200 {
		t.Fatalf("plan: %d\n%s", resp.StatusCode, body)
	}
	var pr PlanResponse
	if err := json.Unmarshal([]byte(body), &pr); err != nil {
		t.Fatal(err)
	}
	if pr.Empty || pr.Running != sha([]byte(runningConfig)) || pr.New != sha([]byte(next)) {
		t.Errorf("plan header: empty=%v running=%s new=%s", pr.Empty, pr.Running, pr.New)
	}
	if len(pr.Delta.Added) != 1 || pr.Delta.Added[0].Name != "ubuntu1" || pr.Delta.Added[0].Kind != "vm" {
		t.Errorf("added: %+v", pr.Delta.Added)
	}
	if len(pr.Delta.Changed) != 1 || pr.Delta.Changed[0].Name != "web" {
		t.Errorf("changed: %+v", pr.Delta.Changed)
	}
	for _, want := range []string{"+ vm ubuntu1", "~ container web", "image: docker.io/library/nginx:1.27 -> docker.io/library/nginx:1.28", "api.token: (secret) -> (secret, changed)"} {
		if !strings.Contains(pr.Text, want) {
			t.Errorf("plan text lacks %q:\n%s", want, pr.Text)
		}
	}
	if strings.Contains(body, "another-token") || strings.Contains(body, testToken) {
		t.Errorf("the plan shows a token:\n%s", body)
	}

	// The same config: no changes.
	_, body = do(t, "POST", ts.URL+"/v1/plan", "Bearer "+testToken, runningConfig)
	json.Unmarshal([]byte(body), &pr)
	if !pr.Empty || !strings.Contains(pr.Text, "No changes.") {
		t.Errorf("same config: %s", body)
	}

	// An invalid config: every problem with its position.
	resp, body = do(t, "POST", ts.URL+"/v1/plan?name=new.yaml", "Bearer "+testToken, "hostname: Bad_Name\nuplink:\n  colour: blue\n")
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("invalid config: %d\n%s", resp.StatusCode, body)
	}
	var ae apiError
	json.Unmarshal([]byte(body), &ae)
	if len(ae.Errors) < 2 || !strings.HasPrefix(ae.Errors[0], "new.yaml:1:") || !strings.Contains(body, "new.yaml:3:3") {
		t.Errorf("invalid config errors: %q", ae.Errors)
	}
}

func TestApply(t *testing.T) {
	box := newFakeBox()
	_, ts := newTestServer(t, box, false)
	next := strings.Replace(runningConfig, "containers:\n", "containers:\n  - name: db\n    image: docker.io/library/postgres:17\n", 1)
	resp, body := do(t, "POST", ts.URL+"/v1/apply?name=next.yaml", "Bearer "+testToken, next)
	if resp.StatusCode != 200 {
		t.Fatalf("apply: %d\n%s", resp.StatusCode, body)
	}
	var ar ApplyResponse
	if err := json.Unmarshal([]byte(body), &ar); err != nil {
		t.Fatal(err)
	}
	if ar.Running != sha([]byte(runningConfig)) || ar.New != sha([]byte(next)) || ar.Result.Config != ar.New || ar.Result.Try != nil {
		t.Errorf("apply answer: running %s new %s result %+v", ar.Running, ar.New, ar.Result)
	}
	if !strings.Contains(ar.Text, "+ container db") {
		t.Errorf("apply diff lacks the new container:\n%s", ar.Text)
	}
	if strings.Contains(body, testToken) {
		t.Errorf("the apply answer shows the token:\n%s", body)
	}
	if got := box.appliedNames(); len(got) != 1 || got[0] != "next.yaml" {
		t.Errorf("applied %v", got)
	}

	// Invalid: 422 with every problem, nothing applied.
	resp, body = do(t, "POST", ts.URL+"/v1/apply?name=bad.yaml", "Bearer "+testToken, "hostname: Bad_Name\nuplink:\n  colour: blue\n")
	var ae apiError
	json.Unmarshal([]byte(body), &ae)
	if resp.StatusCode != http.StatusUnprocessableEntity || len(ae.Errors) < 2 || !strings.HasPrefix(ae.Errors[0], "bad.yaml:1:") {
		t.Errorf("invalid config: %d %q", resp.StatusCode, ae.Errors)
	}
	for _, q := range []string{"try=soon", "try=-1s", "try=48h"} {
		if resp, body := do(t, "POST", ts.URL+"/v1/apply?"+q, "Bearer "+testToken, runningConfig); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d\n%s", q, resp.StatusCode, body)
		}
	}
	if got := box.appliedNames(); len(got) != 1 {
		t.Errorf("refused requests applied configs: %v", got)
	}

	// Nothing to confirm.
	if resp, body := do(t, "POST", ts.URL+"/v1/apply/confirm", "Bearer "+testToken, ""); resp.StatusCode != http.StatusConflict {
		t.Errorf("confirm without a try: %d\n%s", resp.StatusCode, body)
	}

	// A try: the status shows it, a second apply is refused, confirm ends it.
	resp, body = do(t, "POST", ts.URL+"/v1/apply?try=2m", "Bearer "+testToken, runningConfig)
	if resp.StatusCode != 200 {
		t.Fatalf("apply?try=2m: %d\n%s", resp.StatusCode, body)
	}
	json.Unmarshal([]byte(body), &ar)
	if ar.Result.Try == nil || time.Until(ar.Result.Try.Deadline) < time.Minute || ar.Result.Try.Previous != sha([]byte(next)) {
		t.Errorf("try in the answer: %+v", ar.Result.Try)
	}
	_, body = do(t, "GET", ts.URL+"/v1/status", "Bearer "+testToken, "")
	var st Status
	json.Unmarshal([]byte(body), &st)
	if st.Try == nil || st.Try.Config != sha([]byte(runningConfig)) || st.Try.Deadline.IsZero() {
		t.Errorf("status during a try: %+v", st.Try)
	}
	if resp, body := do(t, "POST", ts.URL+"/v1/apply", "Bearer "+testToken, next); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "in progress") {
		t.Errorf("apply during a try: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := do(t, "POST", ts.URL+"/v1/apply/confirm", "Bearer "+testToken, ""); resp.StatusCode != 200 || !strings.Contains(body, sha([]byte(runningConfig))) {
		t.Errorf("confirm: %d\n%s", resp.StatusCode, body)
	}
	_, body = do(t, "GET", ts.URL+"/v1/status", "Bearer "+testToken, "")
	if strings.Contains(body, `"try"`) {
		t.Errorf("status after the confirmation still shows a try:\n%s", body)
	}

	// A failed apply is reported as such.
	box.mu.Lock()
	box.applyErr = errors.New("applying 0123: containers: boom; the box went back to 4567")
	box.mu.Unlock()
	if resp, body := do(t, "POST", ts.URL+"/v1/apply", "Bearer "+testToken, next); resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "went back to") {
		t.Errorf("failed apply: %d\n%s", resp.StatusCode, body)
	}
}

func TestApplyNeedsAnApplier(t *testing.T) {
	s := New(Options{Box: readOnlyBox{newFakeBox()}, Token: testToken, Links: fakeLinks})
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, p := range []string{"/v1/apply", "/v1/apply/confirm"} {
		if resp, body := do(t, "POST", ts.URL+p, "Bearer "+testToken, runningConfig); resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("%s: %d\n%s", p, resp.StatusCode, body)
		}
	}
}

// readOnlyBox hides the fake's Apply.
type readOnlyBox struct{ b *fakeBox }

func (r readOnlyBox) State() BoxState                   { return r.b.State() }
func (r readOnlyBox) Workloads() []Workload             { return r.b.Workloads() }
func (r readOnlyBox) RunningConfig() (ConfigInfo, bool) { return r.b.RunningConfig() }
func (r readOnlyBox) Log(ctx context.Context, name string, follow bool) ([]LogLine, <-chan LogLine, bool) {
	return r.b.Log(ctx, name, follow)
}
func (r readOnlyBox) Power(a PowerAction, reason string) error { return r.b.Power(a, reason) }

func TestMetrics(t *testing.T) {
	box := newFakeBox()
	box.workloads[0].PID = os.Getpid() // a process whose /proc entry exists
	_, ts := newTestServer(t, box, false)
	_, body := do(t, "GET", ts.URL+"/metrics", "Bearer "+testToken, "")
	for _, want := range []string{
		`nucbox_boot_phase{phase="ready"} 1`,
		`nucbox_boot_phase{phase="failed"} 0`,
		`nucbox_boot_ready_seconds 3.456`,
		`nucbox_workload_state{kind="container",name="web",state="running"} 1`,
		`nucbox_workload_state{kind="vm",name="ubuntu1",state="starting"} 1`,
		`nucbox_workload_restarts_total{kind="container",name="web"} 1`,
		`nucbox_link_receive_bytes_total{link="br0"} 4096`,
		`nucbox_link_transmit_packets_total{link="eth0"} 20`,
		`nucbox_link_up{link="eth0"} 1`,
		`process_resident_memory_bytes `,
		`nucbox_workload_cpu_seconds_total{kind="container",name="web"} `,
		`nucbox_workload_resident_memory_bytes{kind="container",name="web"} `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, "nucbox_data_partition") {
		t.Errorf("metrics show a data partition the box did not report")
	}
}

// The data partition's state is a gauge per state, and its space is
// shown while it is mounted.
func TestMetricsDataPartition(t *testing.T) {
	for _, tc := range []struct {
		data       DataPartition
		want, lack []string
	}{
		{DataPartition{State: DataMounted, Device: "/dev/sda2", MountPoint: "/var/lib/nucbox", Size: 1 << 30, Free: 1 << 29},
			[]string{`nucbox_data_partition_state{device="/dev/sda2",state="mounted"} 1`,
				`nucbox_data_partition_state{device="/dev/sda2",state="not mounted"} 0`,
				`nucbox_data_partition_size_bytes{device="/dev/sda2"} 1.073741824e+09`,
				`nucbox_data_partition_free_bytes{device="/dev/sda2"} 5.36870912e+08`}, nil},
		{DataPartition{State: DataNotMounted, Device: "/dev/sda2", MountPoint: "/var/lib/nucbox", Size: 1 << 30, Reason: "no usable superblock"},
			[]string{`nucbox_data_partition_state{device="/dev/sda2",state="not mounted"} 1`,
				`nucbox_data_partition_state{device="/dev/sda2",state="mounted"} 0`},
			[]string{"nucbox_data_partition_size_bytes", "nucbox_data_partition_free_bytes"}},
	} {
		box := newFakeBox()
		d := tc.data
		box.state.Data = &d
		_, ts := newTestServer(t, box, false)
		_, body := do(t, "GET", ts.URL+"/metrics", "Bearer "+testToken, "")
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: metrics lack %q", d.State, w)
			}
		}
		for _, l := range tc.lack {
			if strings.Contains(body, l) {
				t.Errorf("%s: metrics show %q", d.State, l)
			}
		}
	}
}

func TestPanicInHandlerIsRecovered(t *testing.T) {
	box := newFakeBox()
	box.panicky = true
	_, ts := newTestServer(t, box, false)
	resp, body := do(t, "GET", ts.URL+"/v1/status", "Bearer "+testToken, "")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("panicking handler: %d %s", resp.StatusCode, body)
	}
	box.mu.Lock()
	box.panicky = false
	box.mu.Unlock()
	if resp, _ := do(t, "GET", ts.URL+"/v1/status", "Bearer "+testToken, ""); resp.StatusCode != 200 {
		t.Errorf("after a panic the server answers %d", resp.StatusCode)
	}
}

func TestUnknownEndpoint(t *testing.T) {
	_, ts := newTestServer(t, newFakeBox(), false)
	resp, body := do(t, "GET", ts.URL+"/v1/nothing", "Bearer "+testToken, "")
	if resp.StatusCode != 404 {
		t.Errorf("unknown endpoint: %d %s", resp.StatusCode, body)
	}
}

func TestUnixSocket(t *testing.T) {
	box := newFakeBox()
	// Socket paths are limited to 108 bytes; t.TempDir can be longer.
	dir, err := os.MkdirTemp("", "nucbox-api")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "run", "api.sock")
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}}
	// The second server finds a stale socket file left behind, as after
	// a crash, and replaces it.
	for round := 1; round <= 2; round++ {
		if round == 2 {
			os.MkdirAll(filepath.Dir(path), 0o700)
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			l.(*net.UnixListener).SetUnlinkOnClose(false)
			l.Close()
		}
		s := New(Options{Box: box, Links: fakeLinks})
		done := make(chan error, 1)
		go func() { done <- s.ServeUnix(path) }()
		var resp *http.Response
		for i := 0; ; i++ {
			req, _ := http.NewRequest("POST", "http://nucbox/v1/power", strings.NewReader(`{"action":"poweroff"}`))
			resp, err = c.Do(req)
			if err == nil || i > 200 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("round %d: power through the socket without a token: %d, want 202", round, resp.StatusCode)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
			t.Errorf("socket mode %v, want socket 0600", fi.Mode())
		}
		di, _ := os.Stat(filepath.Dir(path))
		if di.Mode().Perm() != 0o700 {
			t.Errorf("socket directory mode %v, want 0700", di.Mode())
		}
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("round %d: ServeUnix: %v", round, err)
		}
	}
	if n := len(box.powered()); n != 2 {
		t.Errorf("%d power requests, want 2", n)
	}
}
