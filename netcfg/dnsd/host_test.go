package dnsd

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// Real sockets in namespaces: a client on the served VLAN's link gets
// answers from the box's address there (the positive control); a client
// on another link of the box, routed to that same address through the
// box, gets no answer at all (not even REFUSED), since the sockets are
// bound to the served link.
func TestServesOnlyItsLink(t *testing.T) {
	box, cs := netnstest.Star(t, "n",
		netnstest.Spoke{Link: "s10", BoxAddr: "10.0.10.1/24", Addr: "10.0.10.2/24"},
		netnstest.Spoke{Link: "s20", BoxAddr: "10.0.20.1/24", Addr: "10.0.20.2/24", Route: "10.0.10.0/24"})
	c10, c20 := cs[0], cs[1]

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
