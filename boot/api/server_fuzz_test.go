package api

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzHandlers sends any request that parses off the wire to the API,
// without credentials, with the token, or on the local socket: never a
// panic or a 500 (a fake box that does not fail gives the handlers no
// reason for one), a status code that is one, and no 2xx for an API
// endpoint without credentials.
func FuzzHandlers(f *testing.F) {
	for _, e := range endpoints {
		req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: box\r\nContent-Length: %d\r\n\r\n%s", e.method, e.path, len(e.body), e.body)
		for who := range byte(3) {
			f.Add([]byte(req), who)
		}
	}
	f.Add([]byte("POST /login HTTP/1.1\r\nHost: box\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\ntoken=wrong"), byte(0))
	f.Add([]byte("GET /v1/console/ubuntu1 HTTP/1.1\r\nHost: box\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"), byte(1))
	f.Add([]byte("POST /v1/upgrade?tries=2 HTTP/1.1\r\nHost: box\r\nContent-Length: 4\r\n\r\nMZ\x00\x00"), byte(1))
	f.Add([]byte("GET /v1/logs/boot?follow=1 HTTP/1.1\r\nHost: box\r\n\r\n"), byte(2))
	f.Fuzz(func(t *testing.T, raw []byte, who byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		var (
			mu     sync.Mutex
			logged []string
		)
		s := New(Options{Box: newFakeBox(), Token: testToken, Links: fakeLinks, Logf: func(format string, a ...any) {
			mu.Lock()
			logged = append(logged, fmt.Sprintf(format, a...))
			mu.Unlock()
		}})
		// Streams (log follows) end with the request's context.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		switch who % 3 {
		case 1:
			r.Header.Set("Authorization", "Bearer "+testToken)
		case 2:
			ctx = withLocal(ctx)
		}
		r = r.WithContext(ctx)
		r.RemoteAddr = "192.0.2.7:40000"
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		mu.Lock()
		text := strings.Join(logged, "\n")
		mu.Unlock()
		if strings.Contains(text, "panic") {
			t.Fatalf("%s %s: %s", r.Method, r.URL, text)
		}
		code := w.Code
		if code < 100 || code > 599 || code == http.StatusInternalServerError {
			t.Fatalf("%s %s: status %d: %s", r.Method, r.URL, code, w.Body)
		}
		api := strings.HasPrefix(r.URL.Path, "/v1/") || r.URL.Path == "/metrics"
		if who%3 == 0 && api && code < 300 {
			t.Fatalf("%s %s without credentials: status %d", r.Method, r.URL, code)
		}
	})
}
