package api

import (
	"errors"
	"net"
	"syscall"
	"testing"
)

// TestListenFreebind binds to addresses the host does not have, as a box
// does with `listen: 10.0.0.5:8443` before its network stage; the plain
// bind to the same address fails, which shows the address is not the
// host's.
func TestListenFreebind(t *testing.T) {
	for _, tc := range []struct{ name, addr string }{
		{"IPv4", "192.0.2.77:0"},
		{"IPv6", "[2001:db8::77]:0"},
		{"every address", ":0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.addr != ":0" {
				l, err := net.Listen("tcp", tc.addr)
				if err == nil {
					l.Close()
					t.Fatalf("plain bind to %s succeeded: the test needs an address the host lacks", tc.addr)
				}
				if !errors.Is(err, syscall.EADDRNOTAVAIL) {
					t.Fatalf("plain bind to %s: %v, want EADDRNOTAVAIL", tc.addr, err)
				}
			}
			l, err := Listen(tc.addr)
			if err != nil {
				t.Fatalf("Listen(%s): %v", tc.addr, err)
			}
			l.Close()
		})
	}
}

// TestListenOverlapping: a listener on one address of a port binds while
// one on every address of it is open (api.listen moving from :P to
// IP:P, new before old); a plain socket on the port still refuses it.
func TestListenOverlapping(t *testing.T) {
	all, err := Listen(":0")
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	_, port, _ := net.SplitHostPort(all.Addr().String())
	one, err := Listen("127.0.0.1:" + port)
	if err != nil {
		t.Fatalf("second listener on the port: %v", err)
	}
	one.Close()

	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if l, err := Listen(plain.Addr().String()); err == nil {
		l.Close()
		t.Fatal("bound over a listener without SO_REUSEPORT")
	}
}
