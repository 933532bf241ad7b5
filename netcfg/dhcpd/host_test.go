package dhcpd

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/nucbox/nucbox/netcfg"
	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// Real sockets in namespaces: a client cabled to the served link gets a
// lease from the box's address there (the positive control), while a
// client cabled to another link of the box, with an address in another
// subnet, gets no answer, since the server's socket is bound to its link.
func TestServesOnlyItsLink(t *testing.T) {
	// The server knows hosts by the client's hardware address.
	box, cs := netnstest.Star(t, "d",
		netnstest.Spoke{Link: "s10", BoxAddr: "10.0.10.1/24", MAC: "02:00:00:00:00:05"},
		netnstest.Spoke{Link: "s20", BoxAddr: "10.0.20.1/24", MAC: "02:aa:00:00:00:20"})
	c10, c20 := cs[0], cs[1]

	sc := testScope()
	sc.Interface = "s10"
	dir := t.TempDir()
	s, _ := New(Options{Dir: dir, Logf: t.Logf})
	defer s.Close()
	if err := box.Namespace().Do(func() error { return s.Apply(Spec{Scopes: []Scope{sc}}, "") }); err != nil {
		t.Fatal(err)
	}

	lease := func(c *netnstest.NS, mac string, wait time.Duration) *netcfg.Lease {
		hw, _ := net.ParseMAC(mac)
		d, err := netcfg.StartLinkDHCP(c.Namespace(), "eth0", hw, "client", filepath.Join(t.TempDir(), "resolv.conf"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if d.Wait(ctx) != nil {
			return nil
		}
		return d.Lease()
	}
	l := lease(c10, "02:00:00:00:00:05", 20*time.Second)
	if l == nil || l.Address.Addr() != netip.MustParseAddr("10.0.10.5") || l.Server != netip.MustParseAddr("10.0.10.1") {
		t.Errorf("client on the served link: lease %+v, want the fixed 10.0.10.5 from 10.0.10.1", l)
	}
	if l := lease(c20, "02:aa:00:00:00:20", 5*time.Second); l != nil {
		t.Errorf("client on another link of the box got a lease: %+v", l)
	}
	if got := s.Leases(); len(got) != 1 || got[0].MAC != "02:00:00:00:00:05" {
		t.Errorf("leases %+v, want only the served client's", got)
	}
}
