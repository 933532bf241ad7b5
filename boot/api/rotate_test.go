package api

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const newToken = "the-rotated-token-0123456789abcdef"

// statusWith asks for the status over TLS with token and returns the
// answer's code.
func statusWith(t *testing.T, c *http.Client, addr, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "https://"+addr+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestSetAuthRotatesTheToken: the next request with the old token gets
// 401, also on a connection it authenticated before, and the new token
// gets in (the positive control). Changing only public-status ends
// nothing.
func TestSetAuthRotatesTheToken(t *testing.T) {
	s := New(Options{Box: newFakeBox(), Token: testToken, Links: fakeLinks, Logf: t.Logf})
	addr := tlsServer(t, s)
	c := tlsClient()
	for _, step := range []struct {
		name      string
		auth      *Auth
		token     string
		want      int
		anonymous int
	}{
		{"before", nil, testToken, 200, 401},
		{"old token after rotation", &Auth{Token: newToken}, testToken, 401, 401},
		{"new token after rotation", nil, newToken, 200, 401},
		{"public status on", &Auth{Token: newToken, PublicStatus: true}, newToken, 200, 200},
		{"public status off", &Auth{Token: newToken}, newToken, 200, 401},
		{"no token at all", &Auth{}, newToken, 401, 401},
	} {
		if step.auth != nil {
			s.SetAuth(*step.auth)
		}
		if got := statusWith(t, c, addr, step.token); got != step.want {
			t.Errorf("%s: status with the token = %d, want %d", step.name, got, step.want)
		}
		req, _ := http.NewRequest("GET", "https://"+addr+"/v1/status", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != step.anonymous {
			t.Errorf("%s: status without a token = %d, want %d", step.name, resp.StatusCode, step.anonymous)
		}
	}
}

// TestSetAuthEndsStreamsOfTheOldToken: a followed log and a console
// opened with the old token end when the token changes; the same streams
// survive an auth change that keeps the token, and streams from the
// local socket, which has no token, are left alone.
func TestSetAuthEndsStreamsOfTheOldToken(t *testing.T) {
	box := newFakeBox()
	box.setWorkloadState("ubuntu1", "running")
	s := New(Options{Box: box, Token: testToken, Links: fakeLinks, Logf: t.Logf})
	addr := tlsServer(t, s)
	ctx := context.Background()
	c := newTestClient(t, ClientOptions{Host: addr, Token: testToken, Insecure: true})

	con, err := c.Console(ctx, "ubuntu1")
	if err != nil {
		t.Fatal(err)
	}
	defer con.Close()
	logReq, _ := http.NewRequest("GET", "https://"+addr+"/v1/logs/"+BootLog+"?follow=1", nil)
	logReq.Header.Set("Authorization", "Bearer "+testToken)
	logResp, err := tlsClient().Do(logReq)
	if err != nil || logResp.StatusCode != 200 {
		t.Fatalf("follow: %v %v", logResp, err)
	}
	defer logResp.Body.Close()
	waitFor(t, "two streams registered", func() bool { return s.openStreams() == 2 })

	// Same token, other settings: the streams stay (the control).
	s.SetAuth(Auth{Token: testToken, PublicStatus: true})
	if _, err := con.Write([]byte("hi\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(con).ReadString('\n')
	if err != nil || line != "HI\n" {
		t.Fatalf("console after a change that keeps the token: %q %v", line, err)
	}
	if n := s.openStreams(); n != 2 {
		t.Fatalf("%d streams after a change that keeps the token, want 2", n)
	}

	s.SetAuth(Auth{Token: newToken})
	ended := make(chan string, 2)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, err := io.Copy(io.Discard, con)
		ended <- "console: " + errString(err)
	}()
	go func() {
		defer wg.Done()
		_, err := io.Copy(io.Discard, logResp.Body)
		ended <- "log: " + errString(err)
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("streams of the old token still open 5s after the token changed")
	}
	close(ended)
	for e := range ended {
		t.Log(e)
	}
	if n := s.openStreams(); n != 0 {
		t.Errorf("%d streams still registered", n)
	}
}

func errString(err error) string {
	if err == nil {
		return "EOF"
	}
	return err.Error()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// clock is a test's time for the session checks.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// login posts the token to /login and returns the session cookie.
func login(t *testing.T, base, token string) *http.Cookie {
	t.Helper()
	return loginVia(t, http.DefaultClient, base, token)
}

// loginVia is login through hc (one that trusts a TLS test server).
func loginVia(t *testing.T, hc *http.Client, base, token string) *http.Cookie {
	t.Helper()
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.PostForm(base+"/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			return ck
		}
	}
	t.Fatalf("login: %d without a session cookie", resp.StatusCode)
	return nil
}

func statusWithCookie(t *testing.T, base string, ck *http.Cookie) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/status", nil)
	req.AddCookie(ck)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSessionsExpire: a web login ends at its lifetime however busy, after
// its idle time, at logout and when the token changes; each case checks
// the session worked just before (the positive control).
func TestSessionsExpire(t *testing.T) {
	type step struct {
		wait time.Duration // clock moves, then a status request
		want int
	}
	for _, tc := range []struct {
		name   string
		steps  []step
		action func(s *Server, base string, ck *http.Cookie)
		after  int
	}{
		{name: "used every 50 minutes, ends at 12h", steps: func() []step {
			var st []step
			for i := 0; i < 14; i++ {
				st = append(st, step{50 * time.Minute, 200}) // 11h40m
			}
			return append(st, step{30 * time.Minute, 401}) // 12h10m
		}()},
		{name: "idle for 61 minutes", steps: []step{{30 * time.Minute, 200}, {61 * time.Minute, 401}}},
		{name: "idle for 59 minutes", steps: []step{{59 * time.Minute, 200}, {59 * time.Minute, 200}}},
		{name: "logout", steps: []step{{time.Minute, 200}}, after: 401, action: func(s *Server, base string, ck *http.Cookie) {
			req, _ := http.NewRequest("POST", base+"/logout", nil)
			req.AddCookie(ck)
			resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
			if err == nil {
				resp.Body.Close()
			}
		}},
		{name: "token rotated", steps: []step{{time.Minute, 200}}, after: 401, action: func(s *Server, _ string, _ *http.Cookie) {
			s.SetAuth(Auth{Token: newToken})
		}},
		{name: "token rotated away and back", steps: []step{{time.Minute, 200}}, after: 401, action: func(s *Server, _ string, _ *http.Cookie) {
			s.SetAuth(Auth{Token: newToken})
			s.SetAuth(Auth{Token: testToken})
		}},
		{name: "other settings changed", steps: []step{{time.Minute, 200}}, after: 200, action: func(s *Server, _ string, _ *http.Cookie) {
			s.SetAuth(Auth{Token: testToken, SessionIdle: 2 * time.Hour})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{Box: newFakeBox(), Token: testToken, Links: fakeLinks, Logf: t.Logf,
				SessionLifetime: 12 * time.Hour, SessionIdle: time.Hour})
			clk := &clock{t: time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)}
			s.now = clk.now
			base := httpServer(t, s)
			ck := login(t, base, testToken)
			if ck.MaxAge != int((12 * time.Hour).Seconds()) {
				t.Errorf("cookie Max-Age %d, want 12h", ck.MaxAge)
			}
			for i, st := range tc.steps {
				clk.add(st.wait)
				if got := statusWithCookie(t, base, ck); got != st.want {
					t.Fatalf("step %d (+%s): %d, want %d", i, st.wait, got, st.want)
				}
			}
			if tc.action != nil {
				tc.action(s, base, ck)
				if got := statusWithCookie(t, base, ck); got != tc.after {
					t.Fatalf("after the action: %d, want %d", got, tc.after)
				}
			}
		})
	}
}

// TestSessionsBounded: logging in in a loop keeps at most maxSessions,
// dropping the least recently used; a session in use survives.
func TestSessionsBounded(t *testing.T) {
	s := New(Options{Box: newFakeBox(), Token: testToken, Links: fakeLinks})
	clk := &clock{t: time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)}
	s.now = clk.now
	base := httpServer(t, s)
	kept := login(t, base, testToken)
	for i := 0; i < maxSessions+20; i++ {
		clk.add(time.Second)
		if i%50 == 0 && statusWithCookie(t, base, kept) != 200 {
			t.Fatalf("the session in use was dropped after %d logins", i)
		}
		login(t, base, testToken)
	}
	if n := s.sessions.count(); n > maxSessions {
		t.Errorf("%d sessions kept, want at most %d", n, maxSessions)
	}
	if statusWithCookie(t, base, kept) != 200 {
		t.Error("the session in use was dropped")
	}
}

// TestLoginCookieCarriesNoToken: the cookie is random, not derived from
// the token, so two logins differ.
func TestLoginCookieCarriesNoToken(t *testing.T) {
	s := New(Options{Box: newFakeBox(), Token: testToken, Links: fakeLinks})
	base := httpServer(t, s)
	a, b := login(t, base, testToken), login(t, base, testToken)
	if a.Value == b.Value || strings.Contains(a.Value, testToken) {
		t.Errorf("cookies %q and %q", a.Value, b.Value)
	}
}

func httpServer(t *testing.T, s *Server) string {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts.URL
}
