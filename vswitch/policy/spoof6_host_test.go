package policy

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// The IPv6 spoof guard on a's port: before the policy a reaches b from a
// foreign address (the lab's control); with it, a reaches b from its own
// address and no longer from the foreign one, and a neighbour advert
// claiming b's address is dropped while one for a's own address passes
// (the rule's counter moves for the forged one only).
func TestSpoofGuardIPv6(t *testing.T) {
	l := newLab(t)
	add6 := func(n *netnstest.NS, cidr string) {
		p := netip.MustParsePrefix(cidr)
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 128)}, Flags: unix.IFA_F_NODAD}
		if err := n.H.AddrAdd(n.Link(t, "eth0"), a); err != nil {
			t.Fatal(err)
		}
	}
	add6(l.a, "fd00:10::2/64")
	add6(l.a, "fd00:10::9/64")
	add6(l.b, "fd00:10::3/64")
	var ln net.Listener
	if err := l.b.Namespace().Do(func() (err error) {
		ln, err = net.Listen("tcp6", "[fd00:10::3]:81")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	from := func(src string) bool {
		err := l.a.Namespace().Do(func() error {
			d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
			c, err := d.Dial("tcp6", "[fd00:10::3]:81")
			if err == nil {
				c.Close()
			}
			return err
		})
		return err == nil
	}
	// A lost first neighbour solicitation costs a second, as long as one
	// dial's timeout, so the positive checks try again for a while; the
	// negative one runs once, after a positive over the same path.
	reaches := func(src string) bool {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			if from(src) {
				return true
			}
		}
		return false
	}
	if !reaches("fd00:10::9") {
		t.Fatal("without a policy a does not reach b from fd00:10::9")
	}
	spec := Spec{Ports: []Port{{Link: "v-a-0", Name: "a.0", MAC: l.macA.String(), SpoofGuard: true,
		IPv6: netip.MustParseAddr("fd00:10::2"), SLAAC: netip.MustParsePrefix("fd00:10::/64")}}}
	st, err := Apply(l.box.Namespace(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rules:\n%s", strings.Join(st.Rules, "\n"))
	if !reaches("fd00:10::2") {
		t.Error("a's own IPv6 address does not reach b")
	}
	if from("fd00:10::9") {
		t.Error("a reached b from an IPv6 address that is not its own")
	}

	naDrops := func() uint64 {
		cs, err := Counters(l.box.Namespace())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if strings.Contains(c.Rule, "nd-neighbor-advert target") {
				return c.Packets
			}
		}
		t.Fatalf("no neighbour advert rule among %+v", cs)
		return 0
	}
	advertise := func(target string) {
		err := l.a.Namespace().Do(func() error {
			ifi, err := net.InterfaceByName("eth0")
			if err != nil {
				return err
			}
			c, _, err := ndp.Listen(ifi, ndp.Addr("fd00:10::2"))
			if err != nil {
				return err
			}
			defer c.Close()
			na := &ndp.NeighborAdvertisement{Override: true, TargetAddress: netip.MustParseAddr(target),
				Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: l.macA}}}
			return c.WriteTo(na, nil, netip.IPv6LinkLocalAllNodes())
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	before := naDrops()
	advertise("fd00:10::2")
	if n := naDrops(); n != before {
		t.Errorf("a's advert for its own address was dropped (%d -> %d)", before, n)
	}
	advertise("fd00:10::3")
	if n := naDrops(); n != before+1 {
		t.Errorf("a's advert for b's address: drops %d -> %d, want one more", before, n)
	}
}
