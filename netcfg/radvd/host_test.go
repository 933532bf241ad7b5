package radvd

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// Real sockets in namespaces. The box advertises fd00:10::/64 on its
// bridge s10 only, with a one-hour interval, so that after its first
// adverts only an answer to a solicitation reaches a client. Client a,
// up from the start, gets a SLAAC address from the first adverts; client
// b, which comes up after them, solicits and gets one too (the positive
// controls); client c, cabled to the box's s20, up all along, gets none.
func TestSLAACFromAdverts(t *testing.T) {
	box := netnstest.New(t, "rbox")
	ca, cb, cc := netnstest.New(t, "rca"), netnstest.New(t, "rcb"), netnstest.New(t, "rcc")
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "s10"}}
	if err := box.H.LinkAdd(br); err != nil {
		t.Fatal(err)
	}
	netnstest.Veth(t, ca, "eth0", box, "pa", true)
	netnstest.Veth(t, cb, "eth0", box, "pb", true)
	netnstest.Veth(t, cc, "eth0", box, "s20", true)
	for _, p := range []string{"pa", "pb"} {
		if err := box.H.LinkSetMaster(box.Link(t, p), box.Link(t, "s10")); err != nil {
			t.Fatal(err)
		}
	}
	box.Up(t, "s10")
	ca.Up(t, "eth0")
	cc.Up(t, "eth0")

	s := New(Options{Logf: t.Logf, Do: box.Namespace().Do, Interval: time.Hour})
	defer s.Close()
	l := Link{VLAN: 10, Interface: "s10", Prefix: netip.MustParsePrefix("fd00:10::1/64")}
	if err := s.Apply(Spec{Links: []Link{l}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.Sent("s10") < initialAdverts {
		if time.Now().After(deadline) {
			t.Fatalf("sent %d adverts in 30s, want the %d first ones", s.Sent("s10"), initialAdverts)
		}
		time.Sleep(100 * time.Millisecond)
	}
	pfx := netip.MustParsePrefix("fd00:10::/64")
	cb.Up(t, "eth0")
	for _, c := range []*netnstest.NS{ca, cb} {
		var got []netip.Prefix
		deadline = time.Now().Add(20 * time.Second)
		for got = slaac(t, c, pfx); len(got) == 0 && time.Now().Before(deadline); got = slaac(t, c, pfx) {
			time.Sleep(100 * time.Millisecond)
		}
		if len(got) == 0 {
			t.Errorf("client %s on s10 has no address in %s (adverts sent: %d)", c.Name, pfx, s.Sent("s10"))
		} else if got[0].Bits() != 64 {
			t.Errorf("client %s on s10 has %s, want a /64", c.Name, got[0])
		}
	}
	if got := slaac(t, cc, netip.MustParsePrefix("::/0")); len(got) != 0 {
		t.Errorf("client on s20, where the box does not advertise, has %v", got)
	}

	// A changed spec stops the link's adverts.
	if err := s.Apply(Spec{}); err != nil {
		t.Fatal(err)
	}
	if n := s.Sent("s10"); n != 0 {
		t.Errorf("s10 still advertising after Apply of an empty spec (%d sent)", n)
	}
}

// slaac is n's eth0 global IPv6 addresses inside p.
func slaac(t *testing.T, n *netnstest.NS, p netip.Prefix) []netip.Prefix {
	t.Helper()
	as, err := n.H.AddrList(n.Link(t, "eth0"), netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	var out []netip.Prefix
	for _, a := range as {
		ip, _ := netip.AddrFromSlice(a.IP)
		if !ip.IsLinkLocalUnicast() && p.Contains(ip) {
			ones, _ := a.Mask.Size()
			out = append(out, netip.PrefixFrom(ip, ones))
		}
	}
	return out
}
