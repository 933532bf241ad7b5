package xfer

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func serve(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln
}

func send(t *testing.T, addr string, n int64) (Result, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return Send(c, n)
}

// lossy forwards connections to dst and drops skip bytes after the first
// MiB of each, as a path that loses data would.
func lossy(t *testing.T, dst string, skip int64) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp4", dst)
			if err != nil {
				in.Close()
				return
			}
			go func() {
				defer in.Close()
				defer out.Close()
				_, _ = io.CopyN(out, in, 1<<20)
				_, _ = io.CopyN(io.Discard, in, skip)
				_, _ = io.Copy(out, in)
				_ = out.(*net.TCPConn).CloseWrite()
				_, _ = io.Copy(in, out) // the count back
			}()
		}
	}()
	return ln.Addr().String()
}

// A transfer moves exactly n bytes (not a multiple of the write size) and
// reports a rate; the receiver serves one transfer after another. Through
// a path that drops bytes the sender gets an error, not a rate: the
// positive control that the count is checked.
func TestSendCountsEveryByte(t *testing.T) {
	ln := serve(t)
	const n = 3<<20 + 17
	for range 2 {
		r, err := send(t, ln.Addr().String(), n)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%v", r)
		if r.Bytes != n || r.Elapsed <= 0 || r.Gbps() <= 0 {
			t.Errorf("result %+v (%.3f Gbit/s), want %d bytes at a rate", r, r.Gbps(), n)
		}
	}

	r, err := send(t, lossy(t, ln.Addr().String(), 1000), n)
	if err == nil || !strings.Contains(err.Error(), "counted 3144745 bytes") {
		t.Errorf("through a path that drops 1000 bytes: %v, %v; want the short count as an error", r, err)
	}
	// The proxy itself passes everything when it drops nothing.
	if _, err := send(t, lossy(t, ln.Addr().String(), 0), n); err != nil {
		t.Errorf("through the proxy dropping nothing: %v", err)
	}
}

func TestGbps(t *testing.T) {
	for _, tc := range []struct {
		r    Result
		want float64
	}{
		{Result{Bytes: 125_000_000, Elapsed: time.Second}, 1},
		{Result{Bytes: 1 << 30, Elapsed: 500 * time.Millisecond}, 17.179869184},
		{Result{Bytes: 1}, 0},
	} {
		if got := tc.r.Gbps(); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("%+v: %v Gbit/s, want %v", tc.r, got, tc.want)
		}
	}
}
