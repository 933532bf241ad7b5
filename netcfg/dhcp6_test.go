package netcfg

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/dhcpv6/server6"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// seen6 is one message a test DHCPv6 server received.
type seen6 struct {
	typ    dhcpv6.MessageType
	server string // the server it names, "" for none
	iaid   [4]byte
	addr   netip.Addr
}

// twoServers6 plays two DHCPv6 servers, a and b, on one socket on lan0;
// who answers is set by the test: a server answers a Solicit, Request,
// Rebind, and a Renew or Release naming it. Leases are short: T1 1s, T2
// 2s, the address preferred 3s and valid 4s.
type twoServers6 struct {
	mu   sync.Mutex
	seen []seen6
	// answering is "a", "b" or "" (neither).
	answering atomic.Value
}

var (
	duidA = &dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: net.HardwareAddr{2, 0, 0, 0, 0, 0xa}}
	duidB = &dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: net.HardwareAddr{2, 0, 0, 0, 0, 0xb}}
)

func serverName(d dhcpv6.DUID) string {
	switch {
	case d == nil:
		return ""
	case bytes.Equal(d.ToBytes(), duidA.ToBytes()):
		return "a"
	case bytes.Equal(d.ToBytes(), duidB.ToBytes()):
		return "b"
	}
	return "other"
}

func startTwoServers6(t *testing.T, n *netnstest.NS, addr string) *twoServers6 {
	t.Helper()
	s := &twoServers6{}
	s.answering.Store("a")
	handler := func(conn net.PacketConn, peer net.Addr, d dhcpv6.DHCPv6) {
		m, err := d.GetInnerMessage()
		if err != nil {
			return
		}
		r := seen6{typ: m.MessageType, server: serverName(m.Options.ServerID())}
		if o := m.Options.OneIANA(); o != nil {
			r.iaid = o.IaId
			if a := o.Options.OneAddress(); a != nil {
				r.addr, _ = netip.AddrFromSlice(a.IPv6Addr)
			}
		}
		s.mu.Lock()
		s.seen = append(s.seen, r)
		s.mu.Unlock()
		who := s.answering.Load().(string)
		if who == "" || r.server != "" && r.server != who {
			return
		}
		id := duidA
		if who == "b" {
			id = duidB
		}
		ia := dhcpv6.WithOption(&dhcpv6.OptIANA{IaId: r.iaid, T1: time.Second, T2: 2 * time.Second,
			Options: dhcpv6.IdentityOptions{Options: dhcpv6.Options{&dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP(addr),
				PreferredLifetime: 3 * time.Second, ValidLifetime: 4 * time.Second}}}})
		var out *dhcpv6.Message
		switch m.MessageType {
		case dhcpv6.MessageTypeSolicit:
			out, err = dhcpv6.NewAdvertiseFromSolicit(m, dhcpv6.WithServerID(id), ia)
		case dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeRenew, dhcpv6.MessageTypeRebind:
			out, err = dhcpv6.NewReplyFromMessage(m, dhcpv6.WithServerID(id), ia)
		case dhcpv6.MessageTypeRelease:
			out, err = dhcpv6.NewReplyFromMessage(m, dhcpv6.WithServerID(id))
		default:
			return
		}
		if err == nil {
			_, _ = conn.WriteTo(out.ToBytes(), peer)
		}
	}
	var srv *server6.Server
	if err := n.Namespace().Do(func() (err error) {
		srv, err = server6.NewServer("lan0", nil, handler)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *twoServers6) messages() []seen6 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

// waitFor polls the messages until one from index from on matches.
func (s *twoServers6) waitFor(from int, d time.Duration, match func(seen6) bool) (seen6, bool) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		ms := s.messages()
		for _, m := range ms[min(from, len(ms)):] {
			if match(m) {
				return m, true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return seen6{}, false
}

func count6(ms []seen6, t dhcpv6.MessageType) int {
	n := 0
	for _, m := range ms {
		if m.typ == t {
			n++
		}
	}
	return n
}

// A DHCPv6 binding lives as RFC 8415 has it. With the server's T1 and T2
// of 1s and 2s: the client renews with its server at T1 (a Renew naming
// it, with the same IA and address, no new Solicit); when that server
// stops answering it rebinds at T2 and a second server takes the binding
// over (the next Renew names that one); when none answers, the address
// goes at its valid lifetime's end and the client solicits again; and
// closing the manager releases the binding to its server.
func TestDHCPv6LeaseLife(t *testing.T) {
	l, _ := v6Lab(t)
	srv := startTwoServers6(t, l.lan, "2001:db8:99::100")
	m := l.manager(t)
	spec := staticSpec()
	spec.IPv6 = IPv6{Mode: IPv6DHCP}
	if _, err := m.Apply(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	l6 := waitLease6(m, 15*time.Second)
	if l6 == nil || l6.State != "bound" || l6.Address.String() != "2001:db8:99::100/128" {
		t.Fatalf("no DHCPv6 lease: %+v", l6)
	}
	if got := l6.Rebind.Sub(l6.Acquired); got != 2*time.Second {
		t.Errorf("rebind %v after the binding, want 2s", got)
	}
	ms := srv.messages()
	solicits := count6(ms, dhcpv6.MessageTypeSolicit)
	req := slices.IndexFunc(ms, func(m seen6) bool { return m.typ == dhcpv6.MessageTypeRequest })
	if solicits == 0 || req < 0 {
		t.Fatalf("the server saw %+v, want a Solicit and a Request", ms)
	}
	iaid := ms[req].iaid
	want := netip.MustParseAddr("2001:db8:99::100")

	// Renew at T1, to the server that gave the binding.
	renew, ok := srv.waitFor(len(ms), 5*time.Second, func(m seen6) bool { return m.typ == dhcpv6.MessageTypeRenew })
	if !ok {
		t.Fatalf("no Renew at T1; the server saw %+v", srv.messages()[len(ms):])
	}
	if renew.server != "a" || renew.iaid != iaid || renew.addr != want {
		t.Errorf("Renew %+v, want server a, IAID %x and %s", renew, iaid, want)
	}

	// The first server goes quiet and the second answers: a Rebind at
	// T2, and the binding moves to the second server.
	srv.answering.Store("b")
	mark := len(srv.messages())
	rebind, ok := srv.waitFor(mark, 8*time.Second, func(m seen6) bool { return m.typ == dhcpv6.MessageTypeRebind })
	if !ok {
		t.Fatalf("no Rebind after the server stopped answering; it saw %+v", srv.messages()[mark:])
	}
	if rebind.server != "" || rebind.iaid != iaid || rebind.addr != want {
		t.Errorf("Rebind %+v, want no server named, IAID %x and %s", rebind, iaid, want)
	}
	mark2 := len(srv.messages())
	renewB, ok := srv.waitFor(mark2, 5*time.Second, func(m seen6) bool {
		return m.typ == dhcpv6.MessageTypeRenew && m.server == "b"
	})
	if !ok {
		t.Fatalf("no Renew to the second server after the Rebind; it saw %+v", srv.messages()[mark2:])
	}
	if renewB.iaid != iaid || renewB.addr != want {
		t.Errorf("Renew %+v after the Rebind", renewB)
	}
	if n := count6(srv.messages(), dhcpv6.MessageTypeSolicit); n != solicits {
		t.Errorf("%d Solicits while the binding lived, want none after the first %d", n-solicits, solicits)
	}
	if l6 := m.Status().Lease6; l6.Server != "0003000102000000000b" || l6.Renewals == 0 {
		t.Errorf("lease %+v, want server b's DUID and renewals", *l6)
	}
	// Renewals keep the address in the kernel well past the 4s valid
	// lifetime it was first given.
	for first := l6.Acquired; time.Since(first) < 7*time.Second; time.Sleep(200 * time.Millisecond) {
		if got := addrs6(t, l.box, "br0"); !slices.Contains(got, "2001:db8:99::100/128") {
			t.Fatalf("br0 IPv6 addresses %v %v after the binding, while renewed", got, time.Since(first))
		}
	}

	// No server answers: the address goes at its valid lifetime's end
	// and the client starts over with a Solicit.
	srv.answering.Store("")
	mark = len(srv.messages())
	deadline := time.Now().Add(10 * time.Second)
	for l6 = m.Status().Lease6; l6.Address.IsValid() && time.Now().Before(deadline); l6 = m.Status().Lease6 {
		time.Sleep(100 * time.Millisecond)
	}
	if l6.Address.IsValid() || l6.State != "init" {
		t.Fatalf("lease %+v with no server answering, want it expired", *l6)
	}
	if time.Now().Before(l6.Expiry) {
		t.Errorf("the address went at %v, before its expiry %v", time.Now(), l6.Expiry)
	}
	if _, ok := srv.waitFor(mark, 5*time.Second, func(m seen6) bool { return m.typ == dhcpv6.MessageTypeSolicit }); !ok {
		t.Errorf("no Solicit after the lease expired")
	}

	// A server again; an Apply that turns DHCPv6 off releases the
	// binding to it, and so does closing the manager.
	srv.answering.Store("a")
	for _, step := range []string{"apply slaac", "close"} {
		if l6 := waitLease6(m, 15*time.Second); l6 == nil || l6.State != "bound" {
			t.Fatalf("%s: no binding: %+v", step, l6)
		}
		mark = len(srv.messages())
		if step == "close" {
			m.Close()
		} else {
			slaac := spec
			slaac.IPv6 = IPv6{Mode: IPv6SLAAC}
			if st, err := m.Apply(context.Background(), slaac); err != nil || st.Changes == 0 || st.Lease6 != nil {
				t.Fatalf("Apply turning DHCPv6 off: %v, %d changes, lease %+v", err, st.Changes, st.Lease6)
			}
		}
		release, ok := srv.waitFor(mark, time.Second, func(m seen6) bool { return m.typ == dhcpv6.MessageTypeRelease })
		if !ok {
			t.Fatalf("%s: no Release; the server saw %+v", step, srv.messages()[mark:])
		}
		if release.server != "a" || release.iaid != iaid || release.addr != want {
			t.Errorf("%s: Release %+v, want server a, IAID %x and %s", step, release, iaid, want)
		}
		if got := addrs6(t, l.box, "br0"); slices.Contains(got, "2001:db8:99::100/128") {
			t.Errorf("%s left %v", step, got)
		}
		if step != "close" {
			if _, err := m.Apply(context.Background(), spec); err != nil {
				t.Fatal(err)
			}
		}
	}
}
