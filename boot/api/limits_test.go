package api

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tlsServer serves s over TLS on a loopback port and returns its address.
func tlsServer(t *testing.T, s *Server) string {
	t.Helper()
	cert, _, err := LoadOrCreateCert(t.TempDir(), "lab1")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.ServeTLSListener(l, cert); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return l.Addr().String()
}

var insecureTLS = &tls.Config{InsecureSkipVerify: true}

func tlsClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: insecureTLS}, Timeout: 10 * time.Second}
}

// authedStatus asks for the status with the token and reports whether
// the answer came on a connection the client had used before.
func authedStatus(c *http.Client, addr string) (reused bool, err error) {
	req, _ := http.NewRequest("GET", "https://"+addr+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
	}))
	resp, err := c.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return reused, fmt.Errorf("status %d", resp.StatusCode)
	}
	return reused, nil
}

// trickler is a client without a token that holds a connection and sends
// a byte every tick, never finishing its request; closed is set when the
// server ends the connection.
type trickler struct {
	closed atomic.Bool
	when   atomic.Int64 // nanoseconds after start the server closed it
}

// trickle holds one connection of the given style until ctx ends:
// "tcp" connects and stays silent, "header" trickles an endless header, "body"
// sends a POST without a token and trickles its declared body.
func trickle(ctx context.Context, addr, style string, tick time.Duration, tr *trickler, wg *sync.WaitGroup) error {
	start := time.Now()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	var c net.Conn = raw
	var first, drip string
	switch style {
	case "tcp":
		// Connects and sends nothing, not even a TLS hello.
	case "header":
		tc := tls.Client(raw, insecureTLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			tr.closed.Store(true) // cut off before it could even start
			return nil
		}
		c, first, drip = tc, "GET /v1/status HTTP/1.1\r\nHost: lab1\r\nX-Slow: ", "a"
	case "body":
		tc := tls.Client(raw, insecureTLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			tr.closed.Store(true)
			return nil
		}
		c, first, drip = tc, "POST /v1/apply HTTP/1.1\r\nHost: lab1\r\nContent-Length: 100000\r\n\r\n", "x"
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		io.Copy(io.Discard, c) // returns when the server closes
		tr.when.Store(int64(time.Since(start)))
		tr.closed.Store(true)
		c.Close()
	}()
	go func() {
		defer wg.Done()
		defer c.Close()
		if first != "" {
			if _, err := io.WriteString(c, first); err != nil {
				return
			}
		}
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			if tr.closed.Load() {
				return
			}
			if drip == "" {
				continue
			}
			if _, err := io.WriteString(c, drip); err != nil {
				return
			}
		}
	}()
	return nil
}

// TestConnectionCaps floods the TLS port with trickling connections that
// carry no token. Their number stays within the caps, older ones are cut
// off as new ones arrive, and a client with the token is still answered
// throughout, on a fresh connection and on its kept-alive one.
func TestConnectionCaps(t *testing.T) {
	const (
		maxConns  = 24
		maxUnauth = 8
		attackers = 120
	)
	s := New(Options{Box: newFakeBox(), Token: testToken, Links: fakeLinks, Logf: t.Logf,
		// Timeouts long enough that only the caps can cut the flood off.
		Limits: Limits{ReadHeaderTimeout: time.Minute, ReadTimeout: time.Minute, MaxConns: maxConns, MaxUnauthConns: maxUnauth}})
	addr := tlsServer(t, s)

	keep := tlsClient()
	if _, err := authedStatus(keep, addr); err != nil {
		t.Fatalf("status before the flood: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	trs := make([]*trickler, attackers)
	styles := []string{"tcp", "header", "body"}
	var maxTotal, maxUn int
	sample := func() {
		tot, un := s.tcpConns()
		maxTotal, maxUn = max(maxTotal, tot), max(maxUn, un)
	}
	for i := range trs {
		trs[i] = &trickler{}
		if err := trickle(ctx, addr, styles[i%3], 50*time.Millisecond, trs[i], &wg); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		sample()
		if i%20 == 19 {
			// The positive control, in the middle of the flood: a new
			// client with the token is answered.
			start := time.Now()
			if _, err := authedStatus(tlsClient(), addr); err != nil {
				t.Errorf("status with the token after %d flooding connections: %v", i+1, err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("status with the token took %v during the flood", d)
			}
		}
	}
	time.Sleep(300 * time.Millisecond)
	sample()
	reused, err := authedStatus(keep, addr)
	if err != nil {
		t.Errorf("status on the kept-alive authenticated connection: %v", err)
	} else if !reused {
		t.Error("the authenticated kept-alive connection was closed by the flood")
	}

	closed := 0
	for _, tr := range trs {
		if tr.closed.Load() {
			closed++
		}
	}
	t.Logf("%d of %d flooding connections cut off; at most %d held (%d without a token)", closed, attackers, maxTotal, maxUn)
	if closed < attackers-maxUnauth {
		t.Errorf("only %d of %d flooding connections were cut off; want at least %d", closed, attackers, attackers-maxUnauth)
	}
	if maxTotal > maxConns || maxUn > maxUnauth {
		t.Errorf("held %d connections, %d without a token; caps are %d and %d", maxTotal, maxUn, maxConns, maxUnauth)
	}
}

// TestConnectionCapRefusesWhenAllAuthenticated: with every slot held by a
// connection that authenticated, a new connection is refused rather than
// one with the token closed.
func TestConnectionCapRefusesWhenAllAuthenticated(t *testing.T) {
	s := New(Options{Box: newFakeBox(), Token: testToken, Links: fakeLinks, Logf: t.Logf,
		Limits: Limits{MaxConns: 2, MaxUnauthConns: 2}})
	addr := tlsServer(t, s)
	a, b := tlsClient(), tlsClient()
	for _, c := range []*http.Client{a, b} {
		if _, err := authedStatus(c, addr); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := authedStatus(tlsClient(), addr); err == nil {
		t.Error("a third connection was served with both slots held by authenticated ones")
	}
	for _, c := range []*http.Client{a, b} {
		if reused, err := authedStatus(c, addr); err != nil || !reused {
			t.Errorf("authenticated connection after the refusal: reused %v, %v", reused, err)
		}
	}
}

// TestTimeoutsCutOffTricklers: with no cap in reach, the header and body
// timeouts end connections that never finish their request.
func TestTimeoutsCutOffTricklers(t *testing.T) {
	s := New(Options{Box: newFakeBox(), Token: testToken, Links: fakeLinks, Logf: t.Logf,
		Limits: Limits{ReadHeaderTimeout: 500 * time.Millisecond, ReadTimeout: time.Second}})
	addr := tlsServer(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	trs := map[string]*trickler{}
	for _, style := range []string{"tcp", "header", "body"} {
		trs[style] = &trickler{}
		if err := trickle(ctx, addr, style, 50*time.Millisecond, trs[style], &wg); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if trs["tcp"].closed.Load() && trs["header"].closed.Load() && trs["body"].closed.Load() {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for style, tr := range trs {
		if !tr.closed.Load() {
			t.Errorf("%s trickler still connected after 5 s", style)
		} else {
			t.Logf("%s trickler cut off after %v", style, time.Duration(tr.when.Load()))
		}
	}
}

// slowBody sends n bytes, one chunk every tick.
type slowBody struct {
	data []byte
	tick time.Duration
}

func (b *slowBody) Read(p []byte) (int, error) {
	if len(b.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(b.tick)
	n := copy(p[:min(len(p), 16)], b.data)
	b.data = b.data[n:]
	return n, nil
}

// TestSlowUploadWithinItsDeadline: an upload that takes longer than
// ReadTimeout still goes through (its body has UploadTimeout), while the
// same slow body on an ordinary route is cut off; a followed log streams
// past ReadTimeout.
func TestSlowUploadWithinItsDeadline(t *testing.T) {
	box := &upgradeBox{fakeBox: newFakeBox()}
	s := New(Options{Box: box, Token: testToken, Links: fakeLinks, Logf: t.Logf,
		Limits: Limits{ReadHeaderTimeout: 500 * time.Millisecond, ReadTimeout: time.Second, UploadTimeout: 20 * time.Second}})
	addr := tlsServer(t, s)
	image := []byte("MZ" + strings.Repeat("u", 40*16-2)) // 40 chunks, 2 s at 50 ms

	post := func(path string) (int, string, time.Duration, error) {
		req, _ := http.NewRequest("POST", "https://"+addr+path, &slowBody{data: append([]byte(nil), image...), tick: 50 * time.Millisecond})
		req.ContentLength = int64(len(image))
		req.Header.Set("Authorization", "Bearer "+testToken)
		start := time.Now()
		resp, err := tlsClient().Do(req)
		if err != nil {
			return 0, "", time.Since(start), err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), time.Since(start), nil
	}

	code, body, took, err := post("/v1/upgrade")
	if err != nil || code != 200 {
		t.Fatalf("slow upload (%v) = %d, %v\n%s", took, code, err, body)
	}
	if took < 1500*time.Millisecond {
		t.Fatalf("upload took %v: not slower than ReadTimeout, the test shows nothing", took)
	}
	if len(box.images) != 1 || len(box.images[0]) != len(image) {
		t.Errorf("box got %d images", len(box.images))
	}
	t.Logf("slow upload of %d bytes took %v, ReadTimeout 1 s", len(image), took)

	code, body, took, err = post("/v1/apply")
	if err == nil && code == 200 {
		t.Errorf("slow body on /v1/apply (%v) = %d; want it cut off at ReadTimeout\n%s", took, code, body)
	} else {
		t.Logf("slow body on /v1/apply: %d %v after %v", code, err, took)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+addr+"/v1/logs/boot?follow=1", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := tlsClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	time.Sleep(2 * time.Second)
	box.follow <- LogLine{Seq: 3, Text: "after ReadTimeout"}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "after ReadTimeout") {
			return
		}
	}
	t.Errorf("followed log ended before a line sent after ReadTimeout: %v", sc.Err())
}

// slowControlBox takes longer than ReadTimeout to control a workload, as
// starting a VM does, and fails if the request's context ends meanwhile.
type slowControlBox struct {
	*fakeBox
	took time.Duration
}

func (b *slowControlBox) Control(ctx context.Context, name string, a WorkloadAction) (Workload, error) {
	select {
	case <-time.After(b.took):
	case <-ctx.Done():
		return Workload{}, ctx.Err()
	}
	return b.fakeBox.Control(ctx, name, a)
}

// TestLongHandlerOutlivesReadTimeout: ReadTimeout bounds receiving the
// request, not the work it asks for.
func TestLongHandlerOutlivesReadTimeout(t *testing.T) {
	box := &slowControlBox{fakeBox: newFakeBox(), took: 1500 * time.Millisecond}
	s := New(Options{Box: box, Token: testToken, Links: fakeLinks, Logf: t.Logf,
		Limits: Limits{ReadHeaderTimeout: 500 * time.Millisecond, ReadTimeout: time.Second}})
	addr := tlsServer(t, s)
	req, _ := http.NewRequest("POST", "https://"+addr+"/v1/workloads/web/restart", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := tlsClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Errorf("restart taking 1.5 s with ReadTimeout 1 s = %d\n%s", resp.StatusCode, b)
	}
}

// TestTokenClientOutlivesAConnectFlood: while connections that send
// nothing arrive faster than a TLS handshake completes, each closing one
// without a token, a client with the token that starts its handshake at
// once still gets its answers: the silent connections go first.
func TestTokenClientOutlivesAConnectFlood(t *testing.T) {
	s := New(Options{Box: newFakeBox(), Token: testToken, Links: fakeLinks, Logf: t.Logf,
		Limits: Limits{ReadHeaderTimeout: time.Minute, MaxConns: 64, MaxUnauthConns: 8}})
	addr := tlsServer(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	var connects atomic.Int64
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					continue
				}
				connects.Add(1)
				stop := context.AfterFunc(ctx, func() { c.Close() })
				c.Read(make([]byte, 1)) // until the server closes it
				stop()
				c.Close()
			}
		}()
	}
	for connects.Load() < 1000 {
		time.Sleep(time.Millisecond)
	}
	failed := 0
	for i := 0; i < 20; i++ {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: insecureTLS, DisableKeepAlives: true}}
		if _, err := authedStatus(c, addr); err != nil {
			failed++
			t.Logf("request %d: %v", i, err)
		}
	}
	// A client whose hello comes late (this process is busy flooding)
	// can still lose its slot now and then; closing the oldest connection
	// alone loses all of them.
	t.Logf("%d connections of the flood; %d of 20 requests with the token failed", connects.Load(), failed)
	if failed > 10 {
		t.Errorf("%d of 20 requests with the token failed during the flood", failed)
	}
}
