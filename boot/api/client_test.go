package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// newTLSTestServer serves box over TLS with a self-signed certificate, as
// a box does on api.listen.
func newTLSTestServer(t *testing.T, box Box) *httptest.Server {
	t.Helper()
	ts := httptest.NewTLSServer(New(Options{Box: box, Token: testToken, Links: fakeLinks, Logf: t.Logf}))
	t.Cleanup(ts.Close)
	return ts
}

func newTestClient(t *testing.T, o ClientOptions) *Client {
	t.Helper()
	c, err := NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientEndpoints(t *testing.T) {
	box := &upgradeBox{fakeBox: newFakeBox()}
	box.setWorkloadState("ubuntu1", "running")
	ts := newTLSTestServer(t, box)
	c := newTestClient(t, ClientOptions{Host: ts.URL, Token: testToken, Insecure: true})
	ctx := context.Background()

	st, body, err := c.Status(ctx)
	if err != nil || st.Hostname != "lab1" || st.Phase != "ready" || len(st.Links) != 3 || len(st.Workloads) != 2 {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	// The body is the answer as sent, for printing it unchanged.
	var again Status
	if err := json.Unmarshal(body, &again); err != nil || again.Hostname != st.Hostname {
		t.Errorf("Status body %q: %v", body, err)
	}

	ci, _, err := c.Config(ctx)
	if err != nil || ci.Text != runningConfig || ci.SHA256 != sha([]byte(runningConfig)) {
		t.Errorf("Config = %+v, %v", ci, err)
	}

	lines, err := c.Logs(ctx, BootLog, -1)
	if err != nil || len(lines) != 2 || lines[0].Text != "nucbox: starting as PID 1" {
		t.Errorf("Logs = %+v, %v", lines, err)
	}
	lines, err = c.Logs(ctx, BootLog, 1)
	if err != nil || len(lines) != 1 || lines[0].Seq != 2 {
		t.Errorf("Logs with tail 1 = %+v, %v", lines, err)
	}

	next := strings.Replace(runningConfig, "hostname: lab1", "hostname: lab2", 1)
	pr, _, err := c.Plan(ctx, "next.yaml", []byte(next))
	if err != nil || pr.Running != sha([]byte(runningConfig)) || pr.New != sha([]byte(next)) || !strings.Contains(pr.Text, "lab2") {
		t.Errorf("Plan = %+v, %v", pr, err)
	}
	if names := box.appliedNames(); len(names) != 0 {
		t.Errorf("Plan applied %v", names)
	}
	ar, _, err := c.Apply(ctx, "next.yaml", []byte(next), time.Minute)
	if err != nil || ar.Result.Config != sha([]byte(next)) || ar.Result.Try == nil || ar.New != ar.Result.Config {
		t.Errorf("Apply = %+v, %v", ar, err)
	}
	if names := box.appliedNames(); len(names) != 1 || names[0] != "next.yaml" {
		t.Errorf("applied %v, want [next.yaml]", names)
	}
	ts2, _, err := c.Confirm(ctx)
	if err != nil || ts2.Config != sha([]byte(next)) {
		t.Errorf("Confirm = %+v, %v", ts2, err)
	}
	var he *HTTPError
	if _, _, err := c.Confirm(ctx); !errors.As(err, &he) || he.Code != 409 {
		t.Errorf("Confirm without a try: %v, want a 409", err)
	}

	wr, _, err := c.Control(ctx, "web", WorkloadStop)
	if err != nil || wr.Action != WorkloadStop || wr.Workload.State != "stopped" || !wr.Workload.Held {
		t.Errorf("Control stop = %+v, %v", wr, err)
	}
	if _, _, err := c.Control(ctx, "nosuch", WorkloadStart); !errors.As(err, &he) || he.Code != 404 || !strings.Contains(he.Message, "nosuch") {
		t.Errorf("Control of an unknown workload: %v", err)
	}

	res, _, err := c.Upgrade(ctx, []byte("MZ image"), 2, false)
	if err != nil || res.Slot != "b" || res.Rebooting || len(box.images) != 1 || box.tries[0] != 2 {
		t.Errorf("Upgrade = %+v, %v (tries %v)", res, err, box.tries)
	}
	if p := box.powerLog(); len(p) != 0 {
		t.Errorf("an upgrade without reboot asked for power %v", p)
	}

	pw, _, err := c.Power(ctx, Reboot)
	if err != nil || pw.Action != Reboot || pw.Status != "accepted" {
		t.Errorf("Power = %+v, %v", pw, err)
	}
	if p := box.powerLog(); len(p) != 1 || p[0] != Reboot {
		t.Errorf("power requests %v, want one reboot", p)
	}
}

func TestClientConfigErrors(t *testing.T) {
	ts := newTLSTestServer(t, newFakeBox())
	c := newTestClient(t, ClientOptions{Host: ts.URL, Token: testToken, Insecure: true})
	_, _, err := c.Plan(context.Background(), "bad.yaml", []byte("hostname: Bad_Name\nuplink:\n  colour: blue\n"))
	var he *HTTPError
	if !errors.As(err, &he) || he.Code != 422 || len(he.Errors) < 2 {
		t.Fatalf("invalid config: %v, want a 422 with every problem", err)
	}
	for _, l := range he.Errors {
		if !strings.HasPrefix(l, "bad.yaml:") {
			t.Errorf("problem %q does not name the file", l)
		}
	}
	if !strings.Contains(err.Error(), "\n"+he.Errors[0]) {
		t.Errorf("the error does not list the problems:\n%v", err)
	}
}

func TestClientOptions(t *testing.T) {
	for _, tc := range []struct {
		o    ClientOptions
		want string
	}{
		{ClientOptions{Token: "x"}, "go with --host"},
		{ClientOptions{Insecure: true}, "go with --host"},
		{ClientOptions{Fingerprint: strings.Repeat("ab", 32)}, "go with --host"},
		{ClientOptions{Host: "http://127.0.0.1:1"}, `--host "http://127.0.0.1:1": the API speaks https only`},
		{ClientOptions{Host: "https://"}, "want https://HOST:PORT"},
		{ClientOptions{Host: "box:8443", Fingerprint: "12:34"}, `--fingerprint "12:34": want the 64 hex digits`},
	} {
		_, err := NewClient(tc.o)
		var oe *OptionError
		if !errors.As(err, &oe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewClient(%+v) = %v, want an OptionError with %q", tc.o, err, tc.want)
		}
	}
	c := newTestClient(t, ClientOptions{Host: "192.168.1.10:8443", Fingerprint: "SHA256:" + strings.Repeat("AB:", 31) + "AB"})
	if c.base != "https://192.168.1.10:8443" || c.local {
		t.Errorf("base %q, local %v", c.base, c.local)
	}
}

// TestFingerprintMismatch: the client pins the certificate it is given,
// and without a fingerprint nor --insecure it says how to get one.
func TestFingerprintMismatch(t *testing.T) {
	ts := newTLSTestServer(t, newFakeBox())
	ctx := context.Background()
	fp := Fingerprint(ts.Certificate().Raw)
	if _, _, err := newTestClient(t, ClientOptions{Host: ts.URL, Token: testToken, Fingerprint: fp}).Status(ctx); err != nil {
		t.Errorf("the right fingerprint: %v", err)
	}
	wrong := strings.Repeat("ab", 32)
	_, _, err := newTestClient(t, ClientOptions{Host: ts.URL, Token: testToken, Fingerprint: wrong}).Status(ctx)
	if err == nil || !strings.Contains(err.Error(), "not the one given with --fingerprint") || !strings.Contains(err.Error(), fp) {
		t.Errorf("wrong fingerprint: %v", err)
	}
	_, _, err = newTestClient(t, ClientOptions{Host: ts.URL, Token: testToken}).Status(ctx)
	if err == nil || !strings.Contains(err.Error(), "--fingerprint") {
		t.Errorf("self-signed without --insecure: %v", err)
	}
}

func TestTokenFromEnvironment(t *testing.T) {
	ts := newTLSTestServer(t, newFakeBox())
	ctx := context.Background()
	t.Setenv(TokenEnv, testToken)
	if st, _, err := newTestClient(t, ClientOptions{Host: ts.URL, Insecure: true}).Status(ctx); err != nil || st.Hostname != "lab1" {
		t.Errorf("%s: %+v, %v", TokenEnv, st, err)
	}
	// The token given wins over the environment's.
	_, _, err := newTestClient(t, ClientOptions{Host: ts.URL, Token: "wrong-token-0123456789", Insecure: true}).Control(ctx, "web", WorkloadStop)
	var he *HTTPError
	if !errors.As(err, &he) || he.Code != 401 || strings.Contains(he.Message, TokenEnv) {
		t.Errorf("wrong token: %v, want a 401 without the hint", err)
	}
	t.Setenv(TokenEnv, "")
	_, _, err = newTestClient(t, ClientOptions{Host: ts.URL, Insecure: true}).Control(ctx, "web", WorkloadStop)
	if !errors.As(err, &he) || he.Code != 401 || !strings.Contains(he.Message, "give --token or set "+TokenEnv) {
		t.Errorf("no token: %v, want a 401 with the hint", err)
	}
}

func TestClientLocalSocket(t *testing.T) {
	// Socket paths are limited to 108 bytes; t.TempDir can be longer.
	dir, err := os.MkdirTemp("", "nucbox-client")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "api.sock")
	c := newTestClient(t, ClientOptions{Socket: sock})
	_, _, err = c.Status(context.Background())
	if err == nil || !strings.Contains(err.Error(), "the local socket") || !strings.Contains(err.Error(), "--host https://BOX:PORT") {
		t.Errorf("no socket: %v", err)
	}

	srv := New(Options{Box: newFakeBox(), Links: fakeLinks})
	go srv.ServeUnix(sock)
	defer srv.Close()
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// No token: being able to connect is the authentication.
	if _, _, err := c.Power(context.Background(), PowerOff); err != nil {
		t.Errorf("power through the socket: %v", err)
	}
}

func TestClientFollowLogs(t *testing.T) {
	box := newFakeBox()
	ts := newTLSTestServer(t, box)
	c := newTestClient(t, ClientOptions{Host: ts.URL, Token: testToken, Insecure: true})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan LogLine, 16)
	done := make(chan error, 1)
	go func() {
		done <- c.FollowLogs(ctx, "web", -1, func(l LogLine) error { got <- l; return nil })
	}()
	wait := func() LogLine {
		t.Helper()
		select {
		case l := <-got:
			return l
		case <-time.After(10 * time.Second):
			t.Fatal("no line after 10s")
			return LogLine{}
		}
	}
	if l := wait(); l.Text != "[nucbox] started pid 321" {
		t.Errorf("backlog line %+v", l)
	}
	box.webFollow <- LogLine{Seq: 2, Text: "GET / 200"}
	if l := wait(); l.Seq != 2 || l.Text != "GET / 200" {
		t.Errorf("followed line %+v", l)
	}
	// The end of ctx is the caller leaving, no error.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("FollowLogs after its context ended: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("FollowLogs did not end with its context")
	}

	// The box ending the stream is an error; so is the callback's.
	close(box.follow)
	err := c.FollowLogs(context.Background(), BootLog, 1, func(LogLine) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "the box closed the log stream") {
		t.Errorf("stream closed by the box: %v", err)
	}
	stop := errors.New("enough")
	if err := c.FollowLogs(context.Background(), BootLog, -1, func(LogLine) error { return stop }); err != stop {
		t.Errorf("callback error: %v, want %v", err, stop)
	}
	var he *HTTPError
	if err := c.FollowLogs(context.Background(), "nosuch", -1, func(LogLine) error { return nil }); !errors.As(err, &he) || he.Code != 404 {
		t.Errorf("unknown log: %v, want a 404", err)
	}
}

func TestClientConsole(t *testing.T) {
	box := newFakeBox()
	box.setWorkloadState("ubuntu1", "running")
	ts := newTLSTestServer(t, box)
	c := newTestClient(t, ClientOptions{Host: ts.URL, Token: testToken, Insecure: true})
	conn, err := c.Console(context.Background(), "ubuntu1")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("uname\r")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "UNAME\r" {
		t.Errorf("console echoed %q, %v", buf, err)
	}
	var he *HTTPError
	if _, err := c.Console(context.Background(), "web"); !errors.As(err, &he) || he.Code != 404 {
		t.Errorf("console of a container: %v, want a 404", err)
	}
}

// TestClientApplyOutlivesCallTimeout: an apply the box takes longer to
// answer than the short bound of status-like calls still gets its answer;
// its bound is the caller's context. Status against the same slow server
// is the control that the short bound is in force.
func TestClientApplyOutlivesCallTimeout(t *testing.T) {
	defer func(d time.Duration) { callTimeout = d }(callTimeout)
	callTimeout = 50 * time.Millisecond
	const answerAfter = 300 * time.Millisecond
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(answerAfter):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"running":"a","new":"b"}`)
	}))
	t.Cleanup(ts.Close)
	c := newTestClient(t, ClientOptions{Host: ts.URL, Token: testToken, Insecure: true})

	if _, _, err := c.Status(context.Background()); err == nil {
		t.Errorf("Status answered after %v with a %v bound", answerAfter, callTimeout)
	}
	start := time.Now()
	ar, _, err := c.Apply(context.Background(), "big.yaml", []byte("hostname: x\n"), 0)
	if err != nil || ar.New != "b" {
		t.Errorf("Apply answered after %v = %+v, %v; want the answer (the bound is the caller's)", time.Since(start), ar, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := c.Apply(ctx, "big.yaml", []byte("hostname: x\n"), 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Apply past its context's deadline: %v, want context.DeadlineExceeded", err)
	}
}

// stallingListener holds the first stall connections it accepts without
// ever answering them, as a box does whose handshake never comes, and
// hands the rest to the server.
type stallingListener struct {
	net.Listener
	mu    sync.Mutex
	stall int
	held  []net.Conn
}

func (l *stallingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		if len(l.held) < l.stall {
			l.held = append(l.held, c)
			l.mu.Unlock()
			continue
		}
		l.mu.Unlock()
		return c, nil
	}
}

func (l *stallingListener) Close() error {
	l.mu.Lock()
	for _, c := range l.held {
		c.Close()
	}
	l.mu.Unlock()
	return l.Listener.Close()
}

// TestClientRetriesStalledHandshake: a handshake the box does not answer
// costs a new connection, for a request that changes things too; a
// certificate that does not match is not tried again; and a box that
// stalls every handshake gives up after handshakeAttempts, naming it.
func TestClientRetriesStalledHandshake(t *testing.T) {
	defer func(d time.Duration, n int) { handshakeTimeout, handshakeAttempts = d, n }(handshakeTimeout, handshakeAttempts)
	handshakeTimeout, handshakeAttempts = 200*time.Millisecond, 3
	serve := func(stall int, box *fakeBox) (*httptest.Server, *stallingListener) {
		ts := httptest.NewUnstartedServer(New(Options{Box: box, Token: testToken, Links: fakeLinks, Logf: t.Logf}))
		sl := &stallingListener{Listener: ts.Listener, stall: stall}
		ts.Listener = sl
		ts.StartTLS()
		t.Cleanup(ts.Close)
		return ts, sl
	}
	held := func(sl *stallingListener) int {
		sl.mu.Lock()
		defer sl.mu.Unlock()
		return len(sl.held)
	}

	// Control: every handshake stalls, and the client gives up saying so.
	ts, sl := serve(1<<20, newFakeBox())
	_, _, err := newTestClient(t, ClientOptions{Host: ts.URL, Token: testToken, Insecure: true}).Status(context.Background())
	var he *HandshakeError
	if !errors.As(err, &he) || he.Attempts != 3 || !strings.Contains(err.Error(), "timed out 3 times") {
		t.Errorf("every handshake stalled: %v, want a HandshakeError after 3 attempts", err)
	}
	if n := held(sl); n != 3 {
		t.Errorf("every handshake stalled: the box saw %d connections, want 3", n)
	}

	// Two stalls, then a box that answers: the stop goes through.
	ts, sl = serve(2, newFakeBox())
	c := newTestClient(t, ClientOptions{Host: ts.URL, Token: testToken, Fingerprint: Fingerprint(ts.Certificate().Raw)})
	if _, _, err := c.Control(context.Background(), "web", WorkloadStop); err != nil {
		t.Errorf("stop after two stalled handshakes: %v", err)
	}
	if n := held(sl); n != 2 {
		t.Errorf("the box held %d connections, want the 2 stalled ones", n)
	}
	// The console's HTTP/1.1 connection gets the same retries.
	box := newFakeBox()
	box.setWorkloadState("ubuntu1", "running")
	ts, _ = serve(1, box)
	conn, err := newTestClient(t, ClientOptions{Host: ts.URL, Token: testToken, Insecure: true}).Console(context.Background(), "ubuntu1")
	if err != nil {
		t.Errorf("console after a stalled handshake: %v", err)
	} else {
		conn.Close()
	}

	// A wrong certificate is refused at once, not tried again.
	ts, _ = serve(0, newFakeBox())
	start := time.Now()
	_, _, err = newTestClient(t, ClientOptions{Host: ts.URL, Token: testToken, Fingerprint: strings.Repeat("ab", 32)}).Status(context.Background())
	if err == nil || errors.As(err, &he) || !strings.Contains(err.Error(), "not the one given with --fingerprint") {
		t.Errorf("wrong fingerprint: %v, want the mismatch without retries", err)
	}
	if d := time.Since(start); d > handshakeTimeout {
		t.Errorf("wrong fingerprint took %v, as long as a stalled handshake", d)
	}
}
