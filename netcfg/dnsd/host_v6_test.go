package dnsd

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// A listener on the box's IPv6 address answers a client on its link over
// IPv6, as router adverts name that address as DNS server; the same
// query to the box's IPv4 address there, where nothing listens, gets no
// answer (the control that the IPv6 socket answered).
func TestServesIPv6(t *testing.T) {
	box, c := netnstest.New(t, "nbox6"), netnstest.New(t, "nc6")
	netnstest.Veth(t, c, "eth0", box, "s10", true)
	c.Up(t, "eth0")
	add6 := func(n *netnstest.NS, link, cidr string) {
		p := netip.MustParsePrefix(cidr)
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 128)}, Flags: unix.IFA_F_NODAD}
		if err := n.H.AddrAdd(n.Link(t, link), a); err != nil {
			t.Fatal(err)
		}
	}
	add6(box, "s10", "fd00:10::1/64")
	add6(c, "eth0", "fd00:10::2/64")
	box.AddAddr(t, "s10", "10.0.10.1/24")
	c.AddAddr(t, "eth0", "10.0.10.2/24")

	s := New(Options{Timeout: 500 * time.Millisecond})
	defer s.Close()
	spec := Spec{Domain: "lab", Listen: []Listener{{Interface: "s10", Address: netip.MustParsePrefix("fd00:10::1/64")}},
		Hosts: []Host{{Name: "vm1", Addresses: []netip.Addr{netip.MustParseAddr("10.0.10.5")}}}}
	if err := box.Namespace().Do(func() error { return s.Apply(spec) }); err != nil {
		t.Fatal(err)
	}
	ask := func(server string) (*dns.Msg, error) {
		var r *dns.Msg
		err := c.Namespace().Do(func() error {
			m := new(dns.Msg)
			m.SetQuestion("vm1.lab.", dns.TypeA)
			var err error
			r, _, err = (&dns.Client{Timeout: time.Second}).Exchange(m, server)
			return err
		})
		return r, err
	}
	if r, err := ask("[fd00:10::1]:53"); err != nil || summary(r) != "NOERROR 10.0.10.5" {
		t.Errorf("over IPv6: %v %v, want NOERROR 10.0.10.5", r, err)
	}
	if r, err := ask("10.0.10.1:53"); err == nil {
		t.Errorf("the box's IPv4 address, not listened on, answered: %s", summary(r))
	}
}
