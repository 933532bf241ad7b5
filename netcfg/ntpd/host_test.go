package ntpd

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/ntp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// Real sockets in namespaces: a client on the served link, in another
// namespace across a veth, gets an unsynced answer (alarm, stratum 16)
// before the box's clock is synced and a valid synced one after; a
// client on another link of the box, routed to the same address through
// the box, gets no answer: the socket is bound to the served link (and
// the source is outside the subnet).
func TestServesItsLink(t *testing.T) {
	box, cs := netnstest.Star(t, "t",
		netnstest.Spoke{Link: "s10", BoxAddr: "10.0.10.1/24", Addr: "10.0.10.2/24"},
		netnstest.Spoke{Link: "s20", BoxAddr: "10.0.20.1/24", Addr: "10.0.20.2/24", Route: "10.0.10.0/24"})
	c10, c20 := cs[0], cs[1]

	var up atomic.Pointer[Upstream]
	up.Store(&Upstream{})
	s := New(Options{Upstream: func() Upstream { return *up.Load() }, Logf: t.Logf})
	defer s.Close()
	spec := Spec{Listen: []Listener{{Interface: "s10", Address: netip.MustParsePrefix("10.0.10.1/24")}}}
	if err := box.Namespace().Do(func() error { return s.Apply(spec) }); err != nil {
		t.Fatal(err)
	}
	ask := func(c *netnstest.NS) (r *ntp.Response, err error) {
		c.Namespace().Do(func() error {
			r, err = ntp.QueryWithOptions("10.0.10.1", ntp.QueryOptions{Timeout: 2 * time.Second})
			return nil
		})
		return r, err
	}
	r, err := ask(c10)
	if err != nil {
		t.Fatalf("unsynced box: %v", err)
	}
	if r.Leap != ntp.LeapNotInSync || r.Stratum != Unsynced {
		t.Errorf("unsynced box: leap %d stratum %d, want %d and %d", r.Leap, r.Stratum, LeapAlarm, Unsynced)
	}
	at := time.Now().Add(-30 * time.Second)
	up.Store(&Upstream{Synced: true, Stratum: 2, Addr: netip.MustParseAddr("192.0.2.123"), At: at, RTT: 3 * time.Millisecond})
	r, err = ask(c10)
	if err != nil {
		t.Fatalf("synced box: %v", err)
	}
	if err := r.Validate(); err != nil || r.Stratum != 3 || r.ReferenceString() != "192.0.2.123" ||
		r.ReferenceTime.Sub(at).Abs() > time.Millisecond || r.ClockOffset.Abs() > 100*time.Millisecond {
		t.Errorf("synced box: %v; stratum %d refid %s reference time %s offset %s", err, r.Stratum, r.ReferenceString(), r.ReferenceTime, r.ClockOffset)
	}
	if r, err := ask(c20); err == nil {
		t.Errorf("client on another link of the box got an answer: stratum %d", r.Stratum)
	}
}

// The same over IPv6: a client on the served link gets an answer at the
// box's IPv6 address there; a client on another link of the box, routed to that
// address through the box, gets none, though its packets to the address
// do arrive (the control: a plain UDP socket on the box echoes them).
func TestServesItsLinkIPv6(t *testing.T) {
	box := netnstest.New(t, "tbox6")
	c10, c20 := netnstest.New(t, "tc106"), netnstest.New(t, "tc206")
	netnstest.Veth(t, c10, "eth0", box, "s10", true)
	netnstest.Veth(t, c20, "eth0", box, "s20", true)
	c10.Up(t, "eth0")
	c20.Up(t, "eth0")
	addr6(t, box, "s10", "fd00:10::1/64")
	addr6(t, box, "s20", "fd00:20::1/64")
	addr6(t, c10, "eth0", "fd00:10::2/64")
	addr6(t, c20, "eth0", "fd00:20::2/64")
	if err := c20.H.RouteAdd(&netlink.Route{LinkIndex: c20.Link(t, "eth0").Attrs().Index,
		Dst: &net.IPNet{IP: net.ParseIP("fd00:10::"), Mask: net.CIDRMask(64, 128)}, Gw: net.ParseIP("fd00:20::1")}); err != nil {
		t.Fatal(err)
	}

	s := New(Options{Logf: t.Logf})
	defer s.Close()
	spec := Spec{Listen: []Listener{{Interface: "s10", Address: netip.MustParsePrefix("fd00:10::1/64")}}}
	if err := box.Namespace().Do(func() error { return s.Apply(spec) }); err != nil {
		t.Fatal(err)
	}
	ask := func(c *netnstest.NS, server string) (r *ntp.Response, err error) {
		c.Namespace().Do(func() error {
			r, err = ntp.QueryWithOptions(server, ntp.QueryOptions{Timeout: 2 * time.Second})
			return nil
		})
		return r, err
	}
	r, err := ask(c10, "fd00:10::1")
	if err != nil {
		t.Fatalf("client on the served link: %v", err)
	}
	if r.Stratum != Unsynced {
		t.Errorf("stratum %d, want %d (never synced)", r.Stratum, Unsynced)
	}
	var echo net.PacketConn
	if err := box.Namespace().Do(func() (err error) {
		echo, err = net.ListenPacket("udp6", "[fd00:10::1]:1123")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := echo.ReadFrom(buf)
			if err != nil {
				return
			}
			echo.WriteTo(buf[:n], from)
		}
	}()
	var reached bool
	c20.Namespace().Do(func() error {
		c, err := net.Dial("udp6", "[fd00:10::1]:1123")
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 8)
		if _, err := c.Write([]byte("ping")); err == nil {
			n, _ := c.Read(buf)
			reached = string(buf[:n]) == "ping"
		}
		return nil
	})
	if !reached {
		t.Fatal("control: the client on the other link does not reach fd00:10::1 at all")
	}
	if r, err := ask(c20, "fd00:10::1"); err == nil {
		t.Errorf("client on another link of the box got an answer: stratum %d", r.Stratum)
	}
}

func addr6(t *testing.T, n *netnstest.NS, link, cidr string) {
	t.Helper()
	p := netip.MustParsePrefix(cidr)
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 128)}, Flags: unix.IFA_F_NODAD}
	if err := n.H.AddrAdd(n.Link(t, link), a); err != nil {
		t.Fatalf("add %s to %s: %v", cidr, link, err)
	}
}
