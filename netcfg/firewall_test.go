package netcfg

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
	"github.com/nucbox/nucbox/internal/nftsame"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// fwLab is a box whose uplink address lives on bridge br0, as after the
// takeover: port up0 is cabled to the LAN (10.99.0.0/24, the box
// 10.99.0.5) and port p1 to a workload on the uplink's native VLAN, that
// is on the lab network itself (10.99.0.7). Two workloads sit behind the
// box's interfaces on internal VLANs, veths standing in for VLAN
// interfaces (the host kernel has no 8021q): c10 behind vlan10
// (10.0.10.0/24 and fd00:10::/64, masqueraded) and c20 behind vlan20
// (10.0.20.0/24). The box serves TCP ports 8443 (the API) and 5901 (a
// VNC display) on every address.
type fwLab struct {
	box, lan, native, c10, c20 *netnstest.NS
}

const (
	apiPort = 8443
	vncPort = 5901
)

func newFWLab(t *testing.T) *fwLab {
	t.Helper()
	l := &fwLab{
		box: netnstest.New(t, "box"), lan: netnstest.New(t, "lan"), native: netnstest.New(t, "nat"),
		c10: netnstest.New(t, "c10"), c20: netnstest.New(t, "c20"),
	}
	// Addresses usable at once: duplicate address detection would hold
	// IPv6 back for a second or two.
	for _, n := range []*netnstest.NS{l.box, l.lan, l.native, l.c10, l.c20} {
		if err := n.Namespace().Do(func() error {
			_, err := writeSysctl("/proc/sys/net/ipv6/conf/default/accept_dad", "0")
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.box.H.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}); err != nil {
		t.Fatal(err)
	}
	br := l.box.Link(t, "br0")
	for _, p := range []struct {
		peer           *netnstest.NS
		port, peerIf   string
		peerAddr, gw   string
		bridged        bool
		boxAddr, boxV6 string
		peerV6         string
	}{
		{peer: l.lan, port: "up0", peerIf: "lan0", peerAddr: gateway + "/24", bridged: true},
		{peer: l.native, port: "p1", peerIf: "eth0", peerAddr: "10.99.0.7/24", bridged: true},
		{peer: l.c10, port: "vlan10", peerIf: "eth0", peerAddr: "10.0.10.5/24", gw: "10.0.10.1",
			boxAddr: "10.0.10.1/24", boxV6: "fd00:10::1/64", peerV6: "fd00:10::5/64"},
		{peer: l.c20, port: "vlan20", peerIf: "eth0", peerAddr: "10.0.20.5/24", gw: "10.0.20.1", boxAddr: "10.0.20.1/24"},
	} {
		netnstest.Veth(t, l.box, p.port, p.peer, p.peerIf, true)
		if p.bridged {
			if err := l.box.H.LinkSetMaster(l.box.Link(t, p.port), br); err != nil {
				t.Fatal(err)
			}
		} else {
			l.box.AddAddr(t, p.port, p.boxAddr)
		}
		if p.boxV6 != "" {
			addAddr6(t, l.box, p.port, p.boxV6)
			addAddr6(t, p.peer, p.peerIf, p.peerV6)
		}
		l.box.Up(t, p.port)
		p.peer.AddAddr(t, p.peerIf, p.peerAddr)
		if p.gw != "" {
			addDefault(t, p.peer, p.peerIf, p.gw)
		}
	}
	l.box.Up(t, "br0")
	l.box.AddAddr(t, "br0", boxAddr)
	for _, port := range []int{apiPort, vncPort} {
		serveTCP(t, l.box, port)
	}
	return l
}

func addAddr6(t *testing.T, n *netnstest.NS, link, cidr string) {
	t.Helper()
	p := netip.MustParsePrefix(cidr)
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 128)}, Flags: unix.IFA_F_NODAD}
	if err := n.H.AddrAdd(n.Link(t, link), a); err != nil {
		t.Fatalf("add %s to %s in %s: %v", cidr, link, n.Name, err)
	}
}

// serveTCP accepts connections on port on every address of n, IPv4 and
// IPv6, and closes them.
func serveTCP(t *testing.T, n *netnstest.NS, port int) {
	t.Helper()
	var ln net.Listener
	if err := n.Namespace().Do(func() (err error) {
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// connects tells whether a TCP connection from n to addr is accepted. A
// filtered port does not answer at all, so the wait is short.
func connects(t *testing.T, n *netnstest.NS, addr string) bool {
	t.Helper()
	var c net.Conn
	err := n.Namespace().Do(func() (err error) {
		c, err = net.DialTimeout("tcp", addr, 400*time.Millisecond)
		return err
	})
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// ping sends ICMP or ICMPv6 echo requests from n to dst and tells whether
// an answer came back.
func ping(t *testing.T, n *netnstest.NS, dst string) bool {
	t.Helper()
	a := netip.MustParseAddr(dst)
	network, listen, proto := "ip4:icmp", "0.0.0.0", 1
	var req, reply icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if a.Is6() {
		network, listen, proto = "ip6:ipv6-icmp", "::", 58
		req, reply = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	var c *icmp.PacketConn
	if err := n.Namespace().Do(func() (err error) {
		c, err = icmp.ListenPacket(network, listen)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := os.Getpid() & 0xffff
	buf := make([]byte, 1500)
	for seq := range 3 {
		b, err := (&icmp.Message{Type: req, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("fw?")}}).Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.WriteTo(b, &net.IPAddr{IP: a.AsSlice()}); err != nil {
			return false
		}
		deadline := time.Now().Add(300 * time.Millisecond)
		_ = c.SetReadDeadline(deadline)
		for time.Now().Before(deadline) {
			k, from, err := c.ReadFrom(buf)
			if err != nil {
				break
			}
			m, err := icmp.ParseMessage(proto, buf[:k])
			if err != nil || m.Type != reply {
				continue
			}
			if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && from.(*net.IPAddr).IP.Equal(a.AsSlice()) {
				return true
			}
		}
	}
	return false
}

// sendRA sends an IPv6 router advert from n's link to all nodes: a
// default router with the prefix fd00:77::/64 to configure addresses
// from, as a rogue workload would.
func sendRA(t *testing.T, n *netnstest.NS, link string) {
	t.Helper()
	body := make([]byte, 12, 44)
	body[0] = 64                               // current hop limit
	binary.BigEndian.PutUint16(body[2:], 1800) // router lifetime, s
	opt := make([]byte, 32)
	opt[0], opt[1], opt[2], opt[3] = 3, 4, 64, 0xc0 // prefix information, on-link and autonomous
	binary.BigEndian.PutUint32(opt[4:], 86400)
	binary.BigEndian.PutUint32(opt[8:], 14400)
	copy(opt[16:], netip.MustParseAddr("fd00:77::").AsSlice())
	b, err := (&icmp.Message{Type: ipv6.ICMPTypeRouterAdvertisement, Body: &icmp.RawBody{Data: append(body, opt...)}}).Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Namespace().Do(func() error {
		c, err := icmp.ListenPacket("ip6:ipv6-icmp", "::")
		if err != nil {
			return err
		}
		defer c.Close()
		ifi, err := net.InterfaceByName(link)
		if err != nil {
			return err
		}
		p := c.IPv6PacketConn()
		if err := p.SetMulticastHopLimit(255); err != nil {
			return err
		}
		if err := p.SetMulticastInterface(ifi); err != nil {
			return err
		}
		_, err = c.WriteTo(b, &net.IPAddr{IP: net.ParseIP("ff02::1"), Zone: link})
		return err
	}); err != nil {
		t.Fatalf("router advert from %s: %v", n.Name, err)
	}
}

// raRoutes lists the box's IPv6 routes on link that a router advert made.
func raRoutes(t *testing.T, n *netnstest.NS, link string) []string {
	t.Helper()
	rs, err := n.H.RouteList(n.Link(t, link), netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		if r.Protocol == unix.RTPROT_RA {
			out = append(out, r.String())
		}
	}
	return out
}

func waitRARoutes(t *testing.T, n *netnstest.NS, link string, d time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if rs := raRoutes(t, n, link); len(rs) > 0 || time.Now().After(deadline) {
			return rs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func flushRARoutes(t *testing.T, n *netnstest.NS, link string) {
	t.Helper()
	rs, err := n.H.RouteList(n.Link(t, link), netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Protocol == unix.RTPROT_RA {
			if err := n.H.RouteDel(&r); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// fwRules lists the box's inet table: each chain with its policy, each
// rule with its handle and comment, so that a replaced table (new
// handles) shows even when its rules read the same.
func fwRules(t *testing.T, n *netnstest.NS) []string {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(int(n.Namespace().Handle())))
	if err != nil {
		t.Fatal(err)
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ch := range chains {
		if ch.Table.Name != FirewallTable {
			continue
		}
		policy := "accept"
		if nftsame.Policy(ch) == nftables.ChainPolicyDrop {
			policy = "drop"
		}
		out = append(out, fmt.Sprintf("chain %s policy %s", ch.Name, policy))
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			comment, _ := userdata.GetString(r.UserData, userdata.TypeComment)
			out = append(out, fmt.Sprintf("  %d %s", r.Handle, comment))
		}
	}
	return out
}

func flushNeighbours(t *testing.T, n *netnstest.NS, link string) {
	t.Helper()
	l := n.Link(t, link)
	ns, err := n.H.NeighList(l.Attrs().Index, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ns {
		if e.State&netlink.NUD_PERMANENT == 0 {
			_ = n.H.NeighDel(&e)
		}
	}
}

func readSysctl(t *testing.T, n *netnstest.NS, file string) string {
	t.Helper()
	var b []byte
	if err := n.Namespace().Do(func() (err error) {
		b, err = os.ReadFile(file)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// The box's services answer the lab network (the LAN, and a workload on
// the uplink's native VLAN) but not the workloads behind VLAN interfaces,
// on none of the box's addresses, IPv4 or IPv6, unless the segment opens
// the port; the same workloads still ping the box, also over IPv6 (which
// needs neighbour discovery through the filter), and the NAT segment
// still reaches the LAN, from its own subnet only. A router advert from a
// workload changes the box's routes before the firewall and not after.
// Applying the same firewall again changes nothing.
func TestFirewallKeepsWorkloadsFromTheBox(t *testing.T) {
	netnstest.Require(t)
	l := newFWLab(t)
	ns := l.box.Namespace()
	api := func(host string) string { return net.JoinHostPort(host, fmt.Sprint(apiPort)) }
	vnc := func(host string) string { return net.JoinHostPort(host, fmt.Sprint(vncPort)) }

	// Without the firewall every port answers everyone, and the box takes
	// a workload's router advert: the checks below can tell.
	if !connects(t, l.c10, api("10.0.10.1")) || !connects(t, l.c10, api("fd00:10::1")) {
		t.Fatal("c10 does not reach the API before the firewall: the test cannot tell a filter from a broken lab")
	}
	sendRA(t, l.c10, "eth0")
	if rs := waitRARoutes(t, l.box, "vlan10", 3*time.Second); len(rs) == 0 {
		t.Fatal("the box ignored c10's router advert before the firewall: the test cannot tell")
	} else {
		t.Logf("before the firewall, c10's router advert gave the box: %v", rs)
	}
	flushRARoutes(t, l.box, "vlan10")

	// The bridge holding the uplink address deaf to the lab's adverts,
	// as the firewall must not leave it.
	if err := ns.Do(func() error {
		_, err := writeSysctl("/proc/sys/net/ipv6/conf/br0/accept_ra", "0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	sendRA(t, l.lan, "lan0")
	if rs := waitRARoutes(t, l.box, "br0", time.Second); len(rs) != 0 {
		t.Fatalf("br0 with accept_ra 0 took the LAN's advert: %v", rs)
	}

	fw := Firewall{Segments: []Segment{
		{Interface: "vlan10", Subnet: netip.MustParsePrefix("10.0.10.0/24"), NAT: true},
		{Interface: "vlan20", Subnet: netip.MustParsePrefix("10.0.20.0/24"), TCP: []uint16{apiPort}},
	}}
	st, err := ApplyFirewall(ns, "br0", fw)
	if err != nil {
		t.Fatal(err)
	}
	if st.Changes == 0 {
		t.Error("the first apply reports no changes")
	}
	first := fwRules(t, l.box)
	t.Logf("rules:\n%s", strings.Join(first, "\n"))

	for _, c := range []struct {
		from *netnstest.NS
		addr string
		want bool
	}{
		{l.lan, api("10.99.0.5"), true},
		{l.lan, vnc("10.99.0.5"), true},
		{l.native, api("10.99.0.5"), true},
		{l.c10, api("10.0.10.1"), false},
		{l.c10, vnc("10.0.10.1"), false},
		{l.c10, api("10.99.0.5"), false},
		{l.c10, api("fd00:10::1"), false},
		{l.c20, api("10.0.20.1"), true},
		{l.c20, vnc("10.0.20.1"), false},
		{l.c20, vnc("10.99.0.5"), false},
	} {
		if got := connects(t, c.from, c.addr); got != c.want {
			t.Errorf("%s -> %s: connected %v, want %v", c.from.Name, c.addr, got, c.want)
		}
	}
	// Forgotten neighbours: the IPv6 ping has to resolve the box's
	// address again, through the filter.
	flushNeighbours(t, l.box, "vlan10")
	flushNeighbours(t, l.c10, "eth0")
	for _, c := range []struct {
		from *netnstest.NS
		addr string
	}{{l.c10, "fd00:10::1"}, {l.c20, "10.0.20.1"}, {l.lan, "10.99.0.5"}} {
		if !ping(t, c.from, c.addr) {
			t.Errorf("%s cannot ping the box at %s", c.from.Name, c.addr)
		}
	}
	// The box's router adverts answer solicitations, which must pass.
	if !solicitationReaches(t, l.c10, l.box, "vlan10") {
		t.Error("c10's router solicitation does not reach the box's vlan10 through the firewall")
	}

	// Frames switched between two ports of the bridge are layer 2, not
	// the firewall's, even where br_netfilter is loaded (as on the test
	// host) and would hand them to the forward chain.
	if !ping(t, l.native, gateway) {
		t.Error("the workload on the native VLAN cannot ping the LAN across the bridge")
	}

	// Forwarding: vlan10 is masqueraded to the LAN, vlan20 is not.
	seen := udpEcho(t, l.lan)
	if !roundTrip(t, l.c10, gateway) {
		t.Error("c10 does not reach the LAN through the box")
	}
	if got := drain(seen); len(got) == 0 || got[0] != netip.MustParsePrefix(boxAddr).Addr() {
		t.Errorf("LAN saw sources %v, want the box's uplink address", got)
	}
	if roundTrip(t, l.c20, gateway) {
		t.Error("c20 (no nat) reached the LAN")
	}
	// Nothing else is forwarded: not one VLAN into another, and not the
	// LAN into a VLAN, even with a route to it.
	c10 := udpEcho(t, l.c10)
	if roundTrip(t, l.c20, "10.0.10.5") || len(drain(c10)) != 0 {
		t.Error("c20 reached c10 on vlan10 through the box")
	}
	if out, err := run(l.lan, "/sbin/ip", "route", "add", "10.0.10.0/24", "via", netip.MustParsePrefix(boxAddr).Addr().String()); err != nil {
		t.Fatalf("route on the LAN: %v: %s", err, out)
	}
	if roundTrip(t, l.lan, "10.0.10.5") || len(drain(c10)) != 0 {
		t.Error("the LAN opened a connection into vlan10")
	}
	drain(seen)
	// A source outside vlan10's subnet is not forwarded, even where the
	// box has a route back to it (so that the reverse-path filter alone
	// would let it through).
	if out, err := run(l.box, "/sbin/ip", "route", "add", "10.0.77.0/24", "dev", "vlan10"); err != nil {
		t.Fatalf("route on the box: %v: %s", err, out)
	}
	l.c10.AddAddr(t, "eth0", "10.0.77.5/24")
	drain(seen)
	if spoofed(t, l.c10, "10.0.77.5", gateway) {
		t.Error("a source outside vlan10's subnet got an answer from the LAN")
	}
	if got := drain(seen); len(got) > 0 {
		t.Errorf("the LAN received packets from a spoofed source: %v", got)
	}

	for _, link := range []string{"vlan10", "vlan20"} {
		if v := readSysctl(t, l.box, "/proc/sys/net/ipv4/conf/"+link+"/rp_filter"); v != "1" {
			t.Errorf("%s rp_filter = %s, want 1 (strict)", link, v)
		}
		if v := readSysctl(t, l.box, "/proc/sys/net/ipv6/conf/"+link+"/accept_ra"); v != "0" {
			t.Errorf("%s accept_ra = %s, want 0", link, v)
		}
	}
	// The lab's adverts give the box its SLAAC address and route on the
	// uplink's link.
	sendRA(t, l.lan, "lan0")
	if rs := waitRARoutes(t, l.box, "br0", 3*time.Second); len(rs) == 0 {
		t.Error("br0, the uplink's link, ignores the LAN's router advert behind the firewall")
	}
	sendRA(t, l.c10, "eth0")
	if rs := waitRARoutes(t, l.box, "vlan10", time.Second); len(rs) > 0 {
		t.Errorf("c10's router advert changed the box's routes behind the firewall: %v", rs)
	}

	// The same firewall again: no write at all, the rules keep their
	// handles.
	st, err = ApplyFirewall(ns, "br0", fw)
	if err != nil {
		t.Fatal(err)
	}
	if st.Changes != 0 {
		t.Errorf("re-applying the same firewall made %d changes", st.Changes)
	}
	if again := fwRules(t, l.box); strings.Join(again, "\n") != strings.Join(first, "\n") {
		t.Errorf("re-apply changed the table:\n%s\nwant\n%s", strings.Join(again, "\n"), strings.Join(first, "\n"))
	}

	// Without NAT the box forwards nothing and switches forwarding off;
	// vlan20 no longer reaches the API.
	st, err = ApplyFirewall(ns, "br0", Firewall{Segments: []Segment{
		{Interface: "vlan10", Subnet: netip.MustParsePrefix("10.0.10.0/24")},
		{Interface: "vlan20", Subnet: netip.MustParsePrefix("10.0.20.0/24")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Changes == 0 {
		t.Error("a changed firewall reports no changes")
	}
	if v := readSysctl(t, l.box, "/proc/sys/net/ipv4/ip_forward"); v != "0" {
		t.Errorf("ip_forward = %s without NAT", v)
	}
	if roundTrip(t, l.c10, gateway) {
		t.Error("c10 still reaches the LAN without NAT")
	}
	if connects(t, l.c20, api("10.0.20.1")) {
		t.Error("c20 still reaches the API after its port was closed")
	}
	if !ping(t, l.c20, "10.0.20.1") {
		t.Error("c20 cannot ping the box after the change")
	}
}

// spoofed sends a datagram from n with source src to dst's echo port and
// tells whether an answer came back.
func spoofed(t *testing.T, n *netnstest.NS, src, dst string) bool {
	t.Helper()
	var c *net.UDPConn
	if err := n.Namespace().Do(func() (err error) {
		c, err = net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(src)}, &net.UDPAddr{IP: net.ParseIP(dst), Port: 7})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	for range 3 {
		if _, err := c.Write([]byte("spoof")); err != nil {
			return false
		}
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := c.Read(buf); err == nil {
			return true
		}
	}
	return false
}

func TestFirewallValidate(t *testing.T) {
	ok := Firewall{Segments: []Segment{{Interface: "vlan10", Subnet: netip.MustParsePrefix("10.0.10.0/24"), NAT: true, TCP: []uint16{8443}}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid firewall: %v", err)
	}
	bad := Firewall{Segments: []Segment{
		{Interface: "", Subnet: netip.MustParsePrefix("10.0.10.0/24")},
		{Interface: "vlan20", Subnet: netip.MustParsePrefix("10.0.20.1/24")},
		{Interface: "vlan20", Subnet: netip.MustParsePrefix("fd00::/64"), NAT: true, TCP: []uint16{0}},
	}}
	err := bad.Validate()
	if err == nil {
		t.Fatal("invalid firewall accepted")
	}
	for _, want := range []string{"empty", "10.0.20.1/24 is not an IPv4 network prefix", "listed twice", "fd00::/64 is not an IPv4 network prefix", "port 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := ApplyFirewall(nil, "", ok); err == nil || !strings.Contains(err.Error(), "no uplink") {
		t.Errorf("apply without an uplink: %v", err)
	}
}
