//go:build panicinject

package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/internal/inject"
	"github.com/nucbox/nucbox/test/syncbuf"
)

// A panic while the API serves a request, on the box's local socket,
// is logged with what was being served, answered with 500, and the next
// request is served.
func TestAPIServesAfterAPanic(t *testing.T) {
	dir, err := os.MkdirTemp("", "nucbox-api") // socket paths are short
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "api.sock")
	var logged syncbuf.Buffer
	s := New(Options{Box: newFakeBox(), Token: testToken, Links: fakeLinks, Logf: func(f string, a ...any) {
		fmt.Fprintf(&logged, f+"\n", a...)
	}})
	served := make(chan error, 1)
	go func() { served <- s.ServeUnix(path) }()
	t.Cleanup(func() { s.Close(); <-served })
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}}
	get := func() (int, error) {
		resp, err := c.Get("http://box/v1/status")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := get(); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the API does not answer on its socket: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	inject.Arm("api.request")
	if code, err := get(); code != http.StatusInternalServerError {
		t.Errorf("request that panicked: %d, %v; want 500", code, err)
	}
	if code, err := get(); code != http.StatusOK {
		t.Errorf("request after the panic: %d, %v; want 200", code, err)
	}
	if got := logged.String(); !strings.Contains(got, "api: panic serving GET /v1/status (recovered): injected panic at api.request") {
		t.Errorf("the panic is not in the log:\n%s", got)
	}
}
