package netcfg

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// natLab is a box between an uplink LAN (10.99.0.0/24, box 10.99.0.5 on
// up0) and two internal segments standing in for VLAN interfaces:
// vlan10 (10.0.10.0/24, masqueraded) and vlan20 (10.0.20.0/24, not).
// The LAN has no route to either segment, so only masqueraded traffic
// can be answered.
type natLab struct {
	box, lan, c10, c20 *netnstest.NS
}

func newNATLab(t *testing.T) *natLab {
	l := &natLab{
		box: netnstest.New(t, "box"), lan: netnstest.New(t, "lan"),
		c10: netnstest.New(t, "c10"), c20: netnstest.New(t, "c20"),
	}
	for _, s := range []struct {
		peer             *netnstest.NS
		boxIf, boxAddr   string
		peerIf, peerAddr string
		gw               string
	}{
		{l.lan, "up0", boxAddr, "lan0", gateway + "/24", ""},
		{l.c10, "vlan10", "10.0.10.1/24", "eth0", "10.0.10.5/24", "10.0.10.1"},
		{l.c20, "vlan20", "10.0.20.1/24", "eth0", "10.0.20.5/24", "10.0.20.1"},
	} {
		netnstest.Veth(t, l.box, s.boxIf, s.peer, s.peerIf, true)
		l.box.Up(t, s.boxIf)
		l.box.AddAddr(t, s.boxIf, s.boxAddr)
		s.peer.AddAddr(t, s.peerIf, s.peerAddr)
		if s.gw != "" {
			addDefault(t, s.peer, s.peerIf, s.gw)
		}
	}
	return l
}

func addDefault(t *testing.T, n *netnstest.NS, dev, gw string) {
	t.Helper()
	if out, err := run(n, "/sbin/ip", "route", "add", "default", "via", gw, "dev", dev); err != nil {
		t.Fatalf("default route in %s: %v: %s", n.Name, err, out)
	}
}

func run(n *netnstest.NS, args ...string) (string, error) {
	out, err := exec.Command("/sbin/ip", append([]string{"netns", "exec", n.Name}, args...)...).CombinedOutput()
	return string(out), err
}

// udpEcho answers every datagram on port 7 of the namespace and reports
// the source address it came from.
func udpEcho(t *testing.T, n *netnstest.NS) <-chan netip.Addr {
	t.Helper()
	var c *net.UDPConn
	if err := n.Namespace().Do(func() (err error) {
		c, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 7})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	src := make(chan netip.Addr, 16)
	go func() {
		buf := make([]byte, 64)
		for {
			k, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			select {
			case src <- from.Addr().Unmap():
			default:
			}
			_, _ = c.WriteToUDPAddrPort(buf[:k], from)
		}
	}()
	return src
}

// roundTrip sends a datagram from n to dst's echo port and tells whether
// the answer came back.
func roundTrip(t *testing.T, n *netnstest.NS, dst string) bool {
	t.Helper()
	var c *net.UDPConn
	if err := n.Namespace().Do(func() (err error) {
		c, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.ParseIP(dst), Port: 7})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	for range 3 {
		if _, err := c.Write([]byte("nat?")); err != nil {
			return false // no route, unreachable
		}
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if k, err := c.Read(buf); err == nil && string(buf[:k]) == "nat?" {
			return true
		}
	}
	return false
}

func drain(ch <-chan netip.Addr) []netip.Addr {
	var out []netip.Addr
	for {
		select {
		case a := <-ch:
			out = append(out, a)
		default:
			return out
		}
	}
}

// ruleset dumps the box's table through nftables as chain name and the
// expressions of each rule, in order.
func ruleset(t *testing.T, l *natLab) (map[string][]string, bool) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(int(l.box.Namespace().Handle())))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	var tbl *nftables.Table
	for _, x := range tables {
		if x.Name == NATTable {
			tbl = x
		}
	}
	if tbl == nil {
		return nil, false
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, ch := range chains {
		if ch.Table.Name != NATTable {
			continue
		}
		rules, err := c.GetRules(tbl, ch)
		if err != nil {
			t.Fatal(err)
		}
		pol := "accept"
		if ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop {
			pol = "drop"
		}
		out[ch.Name] = append(out[ch.Name], "policy "+pol)
		for _, r := range rules {
			var es []string
			for _, e := range r.Exprs {
				es = append(es, strings.TrimPrefix(fmt.Sprintf("%T", e), "*expr."))
			}
			out[ch.Name] = append(out[ch.Name], strings.Join(es, " "))
		}
	}
	return out, true
}

func forwarding(t *testing.T, l *natLab) string {
	t.Helper()
	var b []byte
	if err := l.box.Namespace().Do(func() (err error) {
		b, err = os.ReadFile("/proc/sys/net/ipv4/ip_forward")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// The box masquerades vlan10 behind its uplink address, answers come
// back, and nothing else is forwarded: not vlan20 to the uplink, not
// vlan20 to vlan10, not the LAN into vlan10. Re-applying changes nothing;
// applying without subnets removes the table and forwarding.
func TestNATMasqueradesOnlyNATSubnets(t *testing.T) {
	netnstest.Require(t)
	l := newNATLab(t)
	seen := udpEcho(t, l.lan)
	c10 := udpEcho(t, l.c10)
	ns := l.box.Namespace()

	if roundTrip(t, l.c10, gateway) {
		t.Fatal("vlan10 reached the LAN before any NAT: the test cannot tell masquerading from routing")
	}
	drain(seen)

	nats := []NAT{{Interface: "vlan10", Subnet: netip.MustParsePrefix("10.0.10.0/24")}}
	start := time.Now()
	if err := ApplyNAT(ns, "up0", nats); err != nil {
		t.Fatal(err)
	}
	t.Logf("ApplyNAT took %v", time.Since(start).Round(time.Microsecond))
	if f := forwarding(t, l); f != "1" {
		t.Errorf("ip_forward = %s after ApplyNAT", f)
	}
	first, ok := ruleset(t, l)
	if !ok {
		t.Fatal("no nucbox table after ApplyNAT")
	}
	t.Logf("rules: %v", first)
	if len(first["forward"]) != 3 || first["forward"][0] != "policy drop" || len(first["postrouting"]) != 2 ||
		!strings.HasSuffix(first["postrouting"][1], "Masq") {
		t.Errorf("unexpected rules %v: want forward with policy drop and two rules, postrouting with one masquerade", first)
	}

	if !roundTrip(t, l.c10, gateway) {
		t.Fatal("vlan10 does not reach the LAN through the box")
	}
	if got := drain(seen); len(got) == 0 || got[0] != netip.MustParsePrefix(boxAddr).Addr() {
		t.Errorf("LAN saw sources %v, want the box's uplink address %s", got, netip.MustParsePrefix(boxAddr).Addr())
	}
	if roundTrip(t, l.c20, gateway) {
		t.Error("vlan20 (no nat) reached the LAN")
	}
	if roundTrip(t, l.c20, "10.0.10.5") || len(drain(c10)) != 0 {
		t.Error("vlan20 reached vlan10 through the box")
	}
	// Even with a route, the LAN cannot open connections into vlan10.
	if out, err := run(l.lan, "/sbin/ip", "route", "add", "10.0.10.0/24", "via", netip.MustParsePrefix(boxAddr).Addr().String()); err != nil {
		t.Fatalf("route on the LAN: %v: %s", err, out)
	}
	if roundTrip(t, l.lan, "10.0.10.5") || len(drain(c10)) != 0 {
		t.Error("the LAN opened a connection into vlan10")
	}
	drain(seen)

	for range 2 {
		if err := ApplyNAT(ns, "up0", nats); err != nil {
			t.Fatal(err)
		}
	}
	again, _ := ruleset(t, l)
	if strings.Join(again["forward"], "|") != strings.Join(first["forward"], "|") ||
		strings.Join(again["postrouting"], "|") != strings.Join(first["postrouting"], "|") || len(again) != len(first) {
		t.Errorf("re-apply changed the rules:\n%v\nwant\n%v", again, first)
	}
	if !roundTrip(t, l.c10, gateway) {
		t.Error("vlan10 lost the LAN after re-apply")
	}

	if err := ApplyNAT(ns, "up0", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := ruleset(t, l); ok {
		t.Error("nucbox table left after applying without NAT subnets")
	}
	if f := forwarding(t, l); f != "0" {
		t.Errorf("ip_forward = %s after removing NAT", f)
	}
	if roundTrip(t, l.c10, gateway) {
		t.Error("vlan10 still reaches the LAN after NAT was removed")
	}
	if err := ApplyNAT(ns, "up0", nil); err != nil {
		t.Errorf("removing NAT twice: %v", err)
	}
}
