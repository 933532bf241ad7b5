package netcfg

import (
	"net"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// The helpers below run the traffic of the host-tier network labs:
// routes, UDP echo servers and round trips between namespaces.

func addDefault(t *testing.T, n *netnstest.NS, dev, gw string) {
	t.Helper()
	if out, err := run(n, "/sbin/ip", "route", "add", "default", "via", gw, "dev", dev); err != nil {
		t.Fatalf("default route in %s: %v: %s", n.Name, err, out)
	}
}

func run(n *netnstest.NS, args ...string) (string, error) {
	out, err := exec.Command("/sbin/ip", append([]string{"netns", "exec", n.Name}, args...)...).CombinedOutput()
	return string(out), err
}

// udpEcho answers every datagram on port 7 of the namespace and reports
// the source address it came from.
func udpEcho(t *testing.T, n *netnstest.NS) <-chan netip.Addr {
	t.Helper()
	var c *net.UDPConn
	if err := n.Namespace().Do(func() (err error) {
		c, err = net.ListenUDP("udp", &net.UDPAddr{Port: 7})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	src := make(chan netip.Addr, 16)
	go func() {
		buf := make([]byte, 64)
		for {
			k, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			select {
			case src <- from.Addr().Unmap():
			default:
			}
			_, _ = c.WriteToUDPAddrPort(buf[:k], from)
		}
	}()
	return src
}

// roundTrip sends a datagram from n to dst's echo port and tells whether
// the answer came back.
func roundTrip(t *testing.T, n *netnstest.NS, dst string) bool {
	t.Helper()
	var c *net.UDPConn
	if err := n.Namespace().Do(func() (err error) {
		c, err = net.DialUDP("udp", nil, &net.UDPAddr{IP: net.ParseIP(dst), Port: 7})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	for range 3 {
		if _, err := c.Write([]byte("nat?")); err != nil {
			return false // no route, unreachable
		}
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if k, err := c.Read(buf); err == nil && string(buf[:k]) == "nat?" {
			return true
		}
	}
	return false
}

func drain(ch <-chan netip.Addr) []netip.Addr {
	var out []netip.Addr
	for {
		select {
		case a := <-ch:
			out = append(out, a)
		default:
			return out
		}
	}
}
