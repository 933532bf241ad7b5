package linksock

import (
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// A link deleted and made again under its name gets a new index, which
// the net package's zone cache learns only from RefreshZones (or a
// minute later): binding to a link-local address with the link's name as
// the zone fails before the refresh (the control that the cache was
// stale) and works after it.
func TestRefreshZonesAfterALinkIsMadeAgain(t *testing.T) {
	netnstest.Require(t)
	n := netnstest.New(t, "zones")
	make0 := func() {
		if err := n.H.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "d0"}, PeerName: "d0p"}); err != nil {
			t.Fatal(err)
		}
		a := &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("fe80::d0"), Mask: net.CIDRMask(64, 128)}, Flags: unix.IFA_F_NODAD}
		if err := n.H.AddrAdd(n.Link(t, "d0"), a); err != nil {
			t.Fatal(err)
		}
		n.Up(t, "d0p")
		n.Up(t, "d0")
	}
	bind := func() error {
		return n.Namespace().Do(func() error {
			c, err := net.ListenPacket("udp6", "[fe80::d0%d0]:0")
			if err == nil {
				c.Close()
			}
			return err
		})
	}
	refresh := func() {
		if err := n.Namespace().Do(func() error { RefreshZones(); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	make0()
	refresh() // what an earlier test left in the cache is another namespace's
	if err := bind(); err != nil {
		t.Fatalf("d0 as first made: %v", err)
	}
	if err := n.H.LinkDel(n.Link(t, "d0")); err != nil {
		t.Fatal(err)
	}
	make0()
	if err := bind(); err == nil {
		t.Fatal("bound to the remade d0 before a refresh: the cache was not stale, the test cannot tell")
	}
	refresh()
	if err := bind(); err != nil {
		t.Errorf("after RefreshZones: %v", err)
	}
}
