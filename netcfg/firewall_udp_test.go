package netcfg

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// A segment's UDP ports (DHCP and DNS where the box serves them) become
// input rules matching UDP on that interface only; a segment without
// them has none (the control).
func TestFirewallUDPPorts(t *testing.T) {
	tb := buildFirewall("br0", Firewall{Segments: []Segment{
		{Interface: "vlan10", Subnet: netip.MustParsePrefix("10.0.10.0/24"), TCP: []uint16{53}, UDP: []uint16{53, 67}},
		{Interface: "vlan20", Subnet: netip.MustParsePrefix("10.0.20.0/24")},
	}})
	var comments []string
	udpRules := 0
	for _, ch := range tb.chains {
		if ch.chain.Name != "input" {
			continue
		}
		for _, r := range ch.rules {
			comments = append(comments, r.comment)
			for _, e := range r.exprs {
				if c, ok := e.(*expr.Cmp); ok && len(c.Data) == 1 && c.Data[0] == unix.IPPROTO_UDP {
					udpRules++
				}
			}
		}
	}
	for _, want := range []string{`iifname "vlan10" udp dport 53 accept`, `iifname "vlan10" udp dport 67 accept`, `iifname "vlan10" tcp dport 53 accept`} {
		if !slices.Contains(comments, want) {
			t.Errorf("no rule %q in %q", want, comments)
		}
	}
	if udpRules != 2 {
		t.Errorf("%d input rules match UDP, want 2", udpRules)
	}
	for _, c := range comments {
		if c == `iifname "vlan20" udp dport 53 accept` {
			t.Errorf("vlan20 opens DNS: %q", comments)
		}
	}
}
