package netcfg

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// Every IPv4 rule of the firewall has its IPv6 counterpart: rules that
// match no family serve both, and each rule naming one family (ip, icmp)
// has a twin naming the other (ip6, icmpv6). IPv6's reverse-path filter
// is a rule of its own on each segment.
func TestFirewallParity(t *testing.T) {
	fw := Firewall{Segments: []Segment{
		{Interface: "vlan10", Subnet: netip.MustParsePrefix("10.0.10.0/24"), Subnet6: netip.MustParsePrefix("fd00:10::/64"), NAT: true, TCP: []uint16{8443}, UDP: []uint16{53}},
		{Interface: "vlan20", Subnet6: netip.MustParsePrefix("fd00:20::/64"), NAT: true},
		{Interface: "vlan30", Subnet: netip.MustParsePrefix("10.0.30.0/24"), NAT: true},
	}}
	if err := fw.Validate(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, ch := range buildFirewall("br0", fw).chains {
		for _, r := range ch.rules {
			lines = append(lines, ch.chain.Name+": "+r.comment)
		}
	}
	t.Logf("rules:\n%s", strings.Join(lines, "\n"))
	twin := func(l string) string {
		r := strings.NewReplacer("icmp type", "icmpv6 type", "ip saddr", "ip6 saddr", "10.0.10.0/24", "fd00:10::/64")
		return r.Replace(l)
	}
	for _, l := range lines {
		if (strings.Contains(l, "icmp type") || strings.Contains(l, " ip saddr")) && strings.Contains(l, "10.0.10.0/24") || strings.Contains(l, "icmp type") {
			if !slices.Contains(lines, twin(l)) {
				t.Errorf("IPv4 rule %q has no IPv6 twin %q", l, twin(l))
			}
		}
	}
	for _, want := range []string{
		`forward: iifname "vlan10" oifname "br0" ip6 saddr fd00:10::/64 accept`,
		`forward: iifname "vlan20" oifname "br0" ip6 saddr fd00:20::/64 accept`,
		`postrouting: oifname "br0" ip6 saddr fd00:20::/64 masquerade`,
		`postrouting: oifname "br0" ip saddr 10.0.30.0/24 masquerade`,
		`prerouting: iifname "vlan10" ip6 saddr != :: fib saddr . iif oif missing drop`,
		`prerouting: iifname "vlan20" ip6 saddr != :: fib saddr . iif oif missing drop`,
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("no rule %q", want)
		}
	}
	if !fw.forwards(true) || !fw.forwards(false) || (Firewall{Segments: fw.Segments[2:]}).forwards(true) {
		t.Error("forwards: want IPv4 and IPv6 with all three segments, no IPv6 with vlan30 alone")
	}
	bad := Firewall{Segments: []Segment{{Interface: "vlan40"}, {Interface: "vlan50", Subnet6: netip.MustParsePrefix("fd00:50::1/64")},
		{Interface: "vlan60", Subnet: netip.MustParsePrefix("fd00:60::/64")}}}
	err := bad.Validate()
	for _, want := range []string{"vlan40): no subnet", "fd00:50::1/64 is not an IPv6 network prefix", "fd00:60::/64 is not an IPv4 network prefix"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// NAT66: c10 reaches the LAN over IPv6 through the box, masqueraded
// behind the box's uplink address, once the segment has an IPv6 subnet
// with NAT, and IPv6 forwarding is on; without it (the control) the LAN
// is out of reach and IPv6 forwarding is off. A source outside the
// segment's prefix is not forwarded, even with a route back.
func TestFirewallNAT66(t *testing.T) {
	netnstest.Require(t)
	l := newFWLab(t)
	ns := l.box.Namespace()
	addAddr6(t, l.lan, "lan0", "2001:db8:99::1/64")
	addAddr6(t, l.box, "br0", "2001:db8:99::5/64")
	addDefault(t, l.c10, "eth0", "fd00:10::1")
	seen := udpEcho(t, l.lan)
	const lan = "2001:db8:99::1"

	v4only := Firewall{Segments: []Segment{{Interface: "vlan10", Subnet: netip.MustParsePrefix("10.0.10.0/24"), NAT: true}}}
	if _, err := ApplyFirewall(ns, "br0", v4only); err != nil {
		t.Fatal(err)
	}
	if v := readSysctl(t, l.box, "/proc/sys/net/ipv6/conf/all/forwarding"); v != "0" {
		t.Errorf("IPv6 forwarding %s with IPv4 NAT only", v)
	}
	if roundTrip(t, l.c10, lan) {
		t.Error("c10 reached the LAN over IPv6 without NAT66")
	}
	if !roundTrip(t, l.c10, gateway) {
		t.Error("c10 does not reach the LAN over IPv4 (the lab is broken)")
	}
	drain(seen)

	fw := Firewall{Segments: []Segment{{Interface: "vlan10", Subnet: netip.MustParsePrefix("10.0.10.0/24"),
		Subnet6: netip.MustParsePrefix("fd00:10::/64"), NAT: true}}}
	st, err := ApplyFirewall(ns, "br0", fw)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rules:\n%s", strings.Join(st.Rules, "\n"))
	if v := readSysctl(t, l.box, "/proc/sys/net/ipv6/conf/all/forwarding"); v != "1" {
		t.Errorf("IPv6 forwarding %s with NAT66", v)
	}
	// The uplink's link keeps taking the lab's adverts on a box that now
	// forwards IPv6.
	if v := readSysctl(t, l.box, "/proc/sys/net/ipv6/conf/br0/accept_ra"); v != "2" {
		t.Errorf("br0 accept_ra %s on a forwarding box, want 2", v)
	}
	if !roundTrip(t, l.c10, lan) {
		t.Fatal("c10 does not reach the LAN over IPv6 with NAT66")
	}
	if got := drain(seen); len(got) == 0 || got[0] != netip.MustParseAddr("2001:db8:99::5") {
		t.Errorf("the LAN saw sources %v, want the box's uplink address 2001:db8:99::5", got)
	}
	if out, err := run(l.box, "/sbin/ip", "-6", "route", "add", "fd00:77::/64", "dev", "vlan10"); err != nil {
		t.Fatalf("route on the box: %v: %s", err, out)
	}
	addAddr6(t, l.c10, "eth0", "fd00:77::5/64")
	if spoofed(t, l.c10, "fd00:77::5", lan) {
		t.Error("a source outside vlan10's IPv6 prefix got an answer from the LAN")
	}
	if got := drain(seen); len(got) > 0 {
		t.Errorf("the LAN received IPv6 from a source outside the prefix: %v", got)
	}
	// Back to IPv4 NAT only: IPv6 forwarding goes off again.
	if _, err := ApplyFirewall(ns, "br0", v4only); err != nil {
		t.Fatal(err)
	}
	if v := readSysctl(t, l.box, "/proc/sys/net/ipv6/conf/all/forwarding"); v != "0" {
		t.Errorf("IPv6 forwarding %s after NAT66 was removed", v)
	}
}
