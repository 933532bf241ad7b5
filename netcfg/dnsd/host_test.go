package dnsd

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// Real sockets in namespaces: a client on the served VLAN's link gets
// answers from the box's address there (the positive control); a client
// on another link of the box, routed to that same address through the
// box, gets no answer at all (not even REFUSED), since the sockets are
// bound to the served link.
func TestServesOnlyItsLink(t *testing.T) {
	box := netnstest.New(t, "nbox")
	c10, c20 := netnstest.New(t, "nc10"), netnstest.New(t, "nc20")
	netnstest.Veth(t, c10, "eth0", box, "s10", true)
	netnstest.Veth(t, c20, "eth0", box, "s20", true)
	box.AddAddr(t, "s10", "10.0.10.1/24")
	box.AddAddr(t, "s20", "10.0.20.1/24")
	c10.Up(t, "eth0")
	c20.Up(t, "eth0")
	c10.AddAddr(t, "eth0", "10.0.10.2/24")
	c20.AddAddr(t, "eth0", "10.0.20.2/24")
	if err := c20.H.RouteAdd(&netlink.Route{LinkIndex: c20.Link(t, "eth0").Attrs().Index,
		Dst: &net.IPNet{IP: net.IPv4(10, 0, 10, 0), Mask: net.CIDRMask(24, 32)}, Gw: net.IPv4(10, 0, 20, 1)}); err != nil {
		t.Fatal(err)
	}

	s := New(Options{Timeout: 500 * time.Millisecond})
	defer s.Close()
	spec := Spec{Domain: "lab", Listen: []Listener{{Interface: "s10", Address: netip.MustParsePrefix("10.0.10.1/24")}},
		Hosts: []Host{{Name: "vm1", Addresses: []netip.Addr{netip.MustParseAddr("10.0.10.5")}}}}
	if err := box.Namespace().Do(func() error { return s.Apply(spec) }); err != nil {
		t.Fatal(err)
	}
	ask := func(c *netnstest.NS) (*dns.Msg, error) {
		var r *dns.Msg
		err := c.Namespace().Do(func() error {
			m := new(dns.Msg)
			m.SetQuestion("vm1.lab.", dns.TypeA)
			var err error
			r, _, err = (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, "10.0.10.1:53")
			return err
		})
		return r, err
	}
	if r, err := ask(c10); err != nil || summary(r) != "NOERROR 10.0.10.5" {
		t.Errorf("client on the served link: %v %v, want NOERROR 10.0.10.5", r, err)
	}
	if r, err := ask(c20); err == nil {
		t.Errorf("client on another link of the box got an answer: %s", summary(r))
	}
}
