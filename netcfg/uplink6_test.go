package netcfg

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/dhcpv6/server6"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

const lan6 = "2001:db8:99::1"

// v6Lab is the lab with the LAN's router at 2001:db8:99::1/64 (and its
// link-local address, which it is named by, as router adverts do).
func v6Lab(t *testing.T) (*lab, netip.Addr) {
	t.Helper()
	l := newLab(t)
	// IPv6 makes a link's link-local address once it has carrier: with
	// the box's end up.
	l.box.Up(t, "eth0")
	addAddr6(t, l.lan, "lan0", lan6+"/64")
	deadline := time.Now().Add(5 * time.Second)
	for {
		as, err := l.lan.H.AddrList(l.lan.Link(t, "lan0"), netlink.FAMILY_V6)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if a.Scope == unix.RT_SCOPE_LINK && a.Flags&unix.IFA_F_TENTATIVE == 0 {
				return l, addrOf(a.IP)
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("lan0 has no usable link-local address")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func addrs6(t *testing.T, n *netnstest.NS, link string) []string {
	t.Helper()
	as, err := n.H.AddrList(n.Link(t, link), netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		if a.Scope == unix.RT_SCOPE_UNIVERSE {
			out = append(out, prefixOf(a.IPNet).String())
		}
	}
	return out
}

// pings retries ping for a while: the box's address is tentative for a
// second after it is added or moved (duplicate address detection).
func pings(t *testing.T, n *netnstest.NS, dst string) bool {
	t.Helper()
	for range 10 {
		if ping(t, n, dst) {
			return true
		}
	}
	return false
}

// A static IPv6 address moves onto the bridge with the takeover, its
// router (named by its link-local address) answers the neighbour probe
// through the bridge, the LAN reaches the box, and a second Apply changes
// nothing. A router that does not exist undoes the takeover, the IPv6
// address back on the uplink; and a later change to one undoes the
// change, the old address and route kept.
func TestStaticIPv6Takeover(t *testing.T) {
	l, router := v6Lab(t)
	m := l.manager(t)
	spec := staticSpec()
	spec.IPv6 = IPv6{Mode: IPv6Static, Address: netip.MustParsePrefix("2001:db8:99::5/64"), Gateway: router}
	st, err := m.Apply(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := addrs6(t, l.box, "br0"); !slices.Contains(got, "2001:db8:99::5/64") {
		t.Errorf("br0 IPv6 addresses %v, want 2001:db8:99::5/64", got)
	}
	if got := addrs6(t, l.box, "eth0"); len(got) != 0 {
		t.Errorf("eth0 kept %v", got)
	}
	if st.Probe6 == nil || !st.Probe6.OK || st.Probe6.Method != "ndp" {
		t.Fatalf("IPv6 probe %+v", st.Probe6)
	}
	t.Logf("IPv6 router %s answered through br0 after %v (%d solicitations)", router, st.Probe6.Elapsed, st.Probe6.Attempts)
	if st.Gateway6 != router || !slices.Contains(st.IPv6, netip.MustParsePrefix("2001:db8:99::5/64")) {
		t.Errorf("status IPv6 %v via %s", st.IPv6, st.Gateway6)
	}
	if !pings(t, l.lan, "2001:db8:99::5") {
		t.Error("the LAN cannot ping the box's IPv6 address through the bridge")
	}
	if st, err := m.Apply(context.Background(), spec); err != nil || st.Changes != 0 {
		t.Errorf("second Apply: %d changes, %v", st.Changes, err)
	}

	// A change to a router that is not there is rolled back.
	bad := spec
	bad.IPv6.Address, bad.IPv6.Gateway = netip.MustParsePrefix("2001:db8:99::6/64"), netip.MustParseAddr("2001:db8:99::77")
	bad.Probe.Timeout = 500 * time.Millisecond
	st, err = m.Apply(context.Background(), bad)
	if !errors.Is(err, ErrRolledBack) || st.Rollback == nil {
		t.Fatalf("Apply with a missing IPv6 router: %v, want a rollback", err)
	}
	if got := addrs6(t, l.box, "br0"); !slices.Contains(got, "2001:db8:99::5/64") || slices.Contains(got, "2001:db8:99::6/64") {
		t.Errorf("br0 after the rollback: %v, want 2001:db8:99::5/64 back alone", got)
	}
	if st.Gateway6 != router {
		t.Errorf("IPv6 router after the rollback %s, want %s", st.Gateway6, router)
	}
}

// The takeover itself rolls back when the static IPv6 router does not
// answer through the bridge: the uplink leaves the bridge with both its
// addresses.
func TestStaticIPv6TakeoverRollsBack(t *testing.T) {
	l, _ := v6Lab(t)
	m := l.manager(t)
	spec := staticSpec()
	spec.IPv6 = IPv6{Mode: IPv6Static, Address: netip.MustParsePrefix("2001:db8:99::5/64"), Gateway: netip.MustParseAddr("2001:db8:99::77")}
	spec.Probe.Timeout = 500 * time.Millisecond
	st, err := m.Apply(context.Background(), spec)
	if !errors.Is(err, ErrRolledBack) {
		t.Fatalf("Apply: %v, want a rollback", err)
	}
	t.Logf("Apply: %v", err)
	if l.box.Link(t, "eth0").Attrs().MasterIndex != 0 {
		t.Error("eth0 still enslaved")
	}
	if got := addrs6(t, l.box, "eth0"); !slices.Contains(got, "2001:db8:99::5/64") {
		t.Errorf("eth0 IPv6 addresses %v, want 2001:db8:99::5/64 back", got)
	}
	if got := l.box.Addrs(t, "eth0"); len(got) != 1 || got[0].String() != boxAddr {
		t.Errorf("eth0 IPv4 addresses %v, want %s back", got, boxAddr)
	}
	if st.Rollback == nil || st.Link != "eth0" {
		t.Errorf("rollback %+v link %s", st.Rollback, st.Link)
	}
	if !slices.Contains(st.IPv6, netip.MustParsePrefix("2001:db8:99::5/64")) {
		t.Errorf("status IPv6 %v, want 2001:db8:99::5/64 back on eth0", st.IPv6)
	}
}

// dhcp6Server answers on lan0 with addr for every client, counting the
// replies.
func dhcp6Server(t *testing.T, n *netnstest.NS, addr string) {
	t.Helper()
	duid := &dhcpv6.DUIDLL{HWType: 1, LinkLayerAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}}
	ia := func(m *dhcpv6.Message) dhcpv6.Modifier {
		var id [4]byte
		if o := m.Options.OneIANA(); o != nil {
			id = o.IaId
		}
		return dhcpv6.WithOption(&dhcpv6.OptIANA{IaId: id, T1: 30 * time.Minute, T2: 48 * time.Minute,
			Options: dhcpv6.IdentityOptions{Options: dhcpv6.Options{&dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP(addr),
				PreferredLifetime: time.Hour, ValidLifetime: 2 * time.Hour}}}})
	}
	handler := func(conn net.PacketConn, peer net.Addr, d dhcpv6.DHCPv6) {
		m, err := d.GetInnerMessage()
		if err != nil {
			return
		}
		var out *dhcpv6.Message
		switch m.MessageType {
		case dhcpv6.MessageTypeSolicit:
			out, err = dhcpv6.NewAdvertiseFromSolicit(m, dhcpv6.WithServerID(duid), ia(m))
		case dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeRenew, dhcpv6.MessageTypeRebind:
			out, err = dhcpv6.NewReplyFromMessage(m, dhcpv6.WithServerID(duid), ia(m))
		default:
			return
		}
		if err == nil {
			_, _ = conn.WriteTo(out.ToBytes(), peer)
		}
	}
	var s *server6.Server
	if err := n.Namespace().Do(func() (err error) {
		s, err = server6.NewServer("lan0", nil, handler)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.Close() })
}

// waitLease6 polls the status until the DHCPv6 lease is bound.
func waitLease6(m *Manager, d time.Duration) *Lease6 {
	deadline := time.Now().Add(d)
	for {
		l := m.Status().Lease6
		if l != nil && l.State == "bound" || time.Now().After(deadline) {
			return l
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// DHCPv6 against a server6 on the LAN: while no server answers the
// client has no address (the control); once one does, the client binds
// its address on the bridge, which took the uplink over meanwhile, the
// LAN reaches the box there, and closing the manager removes it.
func TestDHCPv6Lease(t *testing.T) {
	l, _ := v6Lab(t)
	m := l.manager(t)
	spec := staticSpec()
	spec.IPv6 = IPv6{Mode: IPv6DHCP}
	if _, err := m.Apply(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	if l6 := waitLease6(m, 2*time.Second); l6 == nil || l6.State == "bound" || len(addrs6(t, l.box, "br0")) != 0 {
		t.Fatalf("without a server: lease %+v, br0 %v; want init and no address", l6, addrs6(t, l.box, "br0"))
	}
	dhcp6Server(t, l.lan, "2001:db8:99::100")
	start := time.Now()
	l6 := waitLease6(m, 15*time.Second)
	if l6 == nil || l6.State != "bound" {
		t.Fatalf("no DHCPv6 lease: %+v", l6)
	}
	t.Logf("DHCPv6 lease after %v (client retrying): %+v", time.Since(start), *l6)
	if l6.Address.String() != "2001:db8:99::100/128" || l6.Link != "br0" || l6.Renew.Sub(l6.Acquired) != 30*time.Minute {
		t.Errorf("lease %+v, want 2001:db8:99::100/128 on br0, renew after 30m", *l6)
	}
	if got := addrs6(t, l.box, "br0"); !slices.Contains(got, "2001:db8:99::100/128") {
		t.Errorf("br0 IPv6 addresses %v", got)
	}
	// The on-link prefix a router advert would give both sides (a
	// DHCPv6 address is a /128).
	for _, r := range []struct {
		n    *netnstest.NS
		link string
	}{{l.box, "br0"}, {l.lan, "lan0"}} {
		if out, err := run(r.n, "/sbin/ip", "-6", "route", "replace", "2001:db8:99::/64", "dev", r.link); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	if !pings(t, l.lan, "2001:db8:99::100") {
		t.Error("the LAN cannot ping the box's DHCPv6 address")
	}
	m.Close()
	if got := addrs6(t, l.box, "br0"); slices.Contains(got, "2001:db8:99::100/128") {
		t.Errorf("closing the manager left %v", got)
	}
}
