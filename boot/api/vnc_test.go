package api

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

const rfbBanner = "RFB 003.008\n"

// laterLogf is t.Logf that drops lines after the test ended: a stream's
// handler logs its end on its own time.
func laterLogf(t *testing.T) func(string, ...any) {
	var mu sync.Mutex
	done := false
	t.Cleanup(func() {
		mu.Lock()
		done = true
		mu.Unlock()
	})
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Logf(format, args...)
		}
	}
}

// newWSTestServer serves box over TLS, as newTLSTestServer does, with a
// log that outlives the test.
func newWSTestServer(t *testing.T, box Box) *httptest.Server {
	t.Helper()
	s := New(Options{Box: box, Token: testToken, Links: fakeLinks, Logf: laterLogf(t)})
	ts := httptest.NewTLSServer(s)
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return ts
}

// fakeRFB serves the start of RFB on a unix socket as QEMU's VNC server
// does: it sends its banner, reads the client's version (sent on the
// channel) and then echoes whatever comes.
func fakeRFB(t *testing.T) (sock string, versions <-chan string) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), "vnc.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan string, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := io.WriteString(c, rfbBanner); err != nil {
					return
				}
				v := make([]byte, len(rfbBanner))
				if _, err := io.ReadFull(c, v); err != nil {
					return
				}
				got <- string(v)
				io.Copy(c, c)
			}()
		}
	}()
	return sock, got
}

// rfbHandshake reads the banner from c, answers with the same version and
// checks that the server got it.
func rfbHandshake(t *testing.T, c io.ReadWriter, versions <-chan string) {
	t.Helper()
	b := make([]byte, len(rfbBanner))
	if _, err := io.ReadFull(c, b); err != nil || string(b) != rfbBanner {
		t.Fatalf("banner %q, %v", b, err)
	}
	if _, err := io.WriteString(c, rfbBanner); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-versions:
		if v != rfbBanner {
			t.Fatalf("the VNC server got version %q", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client's version never reached the VNC server")
	}
}

func echoes(t *testing.T, c io.ReadWriter, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("writing %q: %v", msg, err)
	}
	b := make([]byte, len(msg))
	if _, err := io.ReadFull(c, b); err != nil || string(b) != msg {
		t.Fatalf("echo %q, %v; want %q", b, err, msg)
	}
}

// TestVNCProxy: the client's VNC connection carries RFB both ways
// through the TLS API, counts as one authenticated API connection, and
// outlives the read timeout.
func TestVNCProxy(t *testing.T) {
	box := newFakeBox()
	box.setWorkloadState("ubuntu1", "running")
	sock, versions := fakeRFB(t)
	box.vncSock = sock
	const readTimeout = 300 * time.Millisecond
	s := New(Options{Box: box, Token: testToken, Links: fakeLinks, Logf: laterLogf(t), Limits: Limits{ReadTimeout: readTimeout}})
	addr := tlsServer(t, s)
	cl := newTestClient(t, ClientOptions{Host: "https://" + addr, Token: testToken, Insecure: true})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := cl.VNC(ctx, "ubuntu1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	rfbHandshake(t, c, versions)
	if total, unauth := s.tcpConns(); total != 1 || unauth != 0 {
		t.Errorf("while the screen is open the API holds %d connections, %d unauthenticated; want 1, 0", total, unauth)
	}
	// Idle for longer than a request may take: a screen has no deadline.
	time.Sleep(3 * readTimeout)
	echoes(t, c, "key event")

	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		total, _ := s.tcpConns()
		if total == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the closed screen still holds %d API connections", total)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The client reports the API's refusals as HTTP errors.
	_, err = cl.VNC(ctx, "nosuch")
	var he *HTTPError
	if !asHTTPError(err, &he) || he.Code != http.StatusNotFound {
		t.Errorf("screen of an unknown VM: %v", err)
	}
}

func asHTTPError(err error, he **HTTPError) bool {
	e, ok := err.(*HTTPError)
	if ok {
		*he = e
	}
	return ok
}

// wsDial opens path as a WebSocket with the given headers and
// subprotocols, and returns the status the server answered.
func wsDial(t *testing.T, hc *http.Client, url string, h http.Header, protocols ...string) (*websocket.Conn, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: h, Subprotocols: protocols})
	if err != nil {
		if resp == nil {
			t.Fatalf("dial %s: %v", url, err)
		}
		return nil, resp.StatusCode
	}
	return c, http.StatusSwitchingProtocols
}

func bearerProtocol(tok string) string {
	return BearerProtocolPrefix + base64.RawURLEncoding.EncodeToString([]byte(tok))
}

// TestVNCAccess: the screen needs the token (the page's login only
// reads), by header or, from a browser, in a subprotocol; errors are
// plain HTTP answers before the upgrade.
func TestVNCAccess(t *testing.T) {
	box := newFakeBox()
	box.setWorkloadState("ubuntu1", "running")
	sock, versions := fakeRFB(t)
	box.vncSock = sock
	ts := newWSTestServer(t, box)
	hc := ts.Client()
	url := "wss" + strings.TrimPrefix(ts.URL, "https") + VNCPath("ubuntu1")
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	bearer := "Bearer " + testToken
	session := loginVia(t, hc, ts.URL, testToken)
	for _, tc := range []struct {
		name      string
		h         http.Header
		protocols []string
		want      int
	}{
		{"no token", nil, []string{BinarySubprotocol}, http.StatusUnauthorized},
		{"wrong token", hdr("Authorization", "Bearer wrong-token-0123456789abcdef"), nil, http.StatusUnauthorized},
		{"wrong token in a subprotocol", nil, []string{BinarySubprotocol, bearerProtocol("wrong-token-0123456789abcdef")}, http.StatusUnauthorized},
		{"unreadable subprotocol token", nil, []string{BinarySubprotocol, BearerProtocolPrefix + "!!"}, http.StatusUnauthorized},
		{"the page's login cookie only reads", hdr("Cookie", sessionCookie+"="+session.Value), nil, http.StatusForbidden},
		{"a foreign page, even with the token", hdr("Authorization", bearer, "Origin", "https://evil.example"), nil, http.StatusForbidden},
		{"token in the header", hdr("Authorization", bearer), []string{BinarySubprotocol}, http.StatusSwitchingProtocols},
		{"token in a subprotocol, as from the page", hdr("Origin", ts.URL), []string{BinarySubprotocol, bearerProtocol(testToken)}, http.StatusSwitchingProtocols},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, code := wsDial(t, hc, url, tc.h, tc.protocols...)
			if code != tc.want {
				t.Fatalf("status %d, want %d", code, tc.want)
			}
			if c == nil {
				return
			}
			defer c.CloseNow()
			if p := c.Subprotocol(); p != BinarySubprotocol {
				t.Errorf("subprotocol %q, want %q (and never the token's)", p, BinarySubprotocol)
			}
			nc := websocket.NetConn(context.Background(), c, websocket.MessageBinary)
			nc.SetDeadline(time.Now().Add(10 * time.Second))
			rfbHandshake(t, nc, versions)
		})
	}

	// Refusals before the upgrade, with the token.
	box.workloads = append(box.workloads, Workload{Kind: "vm", Name: "stopped1", State: "stopped"})
	for _, tc := range []struct{ vm, want string }{
		{"nosuch", "404"}, {"web", "404"}, {"stopped1", "409"},
	} {
		_, code := wsDial(t, hc, "wss"+strings.TrimPrefix(ts.URL, "https")+VNCPath(tc.vm), hdr("Authorization", bearer))
		if got := http.StatusText(code); itoa(code) != tc.want {
			t.Errorf("screen of %s: %d %s, want %s", tc.vm, code, got, tc.want)
		}
	}
	resp, body := doClient(t, hc, "GET", ts.URL+VNCPath("ubuntu1"), bearer)
	if resp.StatusCode != http.StatusUpgradeRequired || !strings.Contains(body, "nucbox vnc ubuntu1") {
		t.Errorf("plain GET of the screen: %d\n%s", resp.StatusCode, body)
	}
	box.mu.Lock()
	box.vncSock = ""
	box.mu.Unlock()
	if _, code := wsDial(t, hc, url, hdr("Authorization", bearer)); code != http.StatusNotFound {
		t.Errorf("screen of a VM without a display: %d, want 404", code)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func doClient(t *testing.T, hc *http.Client, method, url, auth string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	req.Header.Set("Authorization", auth)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(bufio.NewReader(resp.Body))
	return resp, string(b)
}

// TestConsoleWebSocket: the web page's terminal gets the serial console
// as a WebSocket, with the same access as the console itself.
func TestConsoleWebSocket(t *testing.T) {
	box := newFakeBox()
	box.setWorkloadState("ubuntu1", "running")
	ts := newWSTestServer(t, box)
	url := "wss" + strings.TrimPrefix(ts.URL, "https") + "/v1/console/ubuntu1"
	if _, code := wsDial(t, ts.Client(), url, nil, BinarySubprotocol); code != http.StatusUnauthorized {
		t.Errorf("console WebSocket without a token: %d, want 401", code)
	}
	c, code := wsDial(t, ts.Client(), url, nil, BinarySubprotocol, bearerProtocol(testToken))
	if code != http.StatusSwitchingProtocols {
		t.Fatalf("console WebSocket: %d", code)
	}
	defer c.CloseNow()
	nc := websocket.NetConn(context.Background(), c, websocket.MessageBinary)
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, "ls\r"); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	if _, err := io.ReadFull(nc, b); err != nil || string(b) != "LS\r" {
		t.Errorf("console answered %q, %v", b, err)
	}
}
