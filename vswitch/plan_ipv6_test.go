package vswitch

import (
	"net/netip"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// A box IPv6 address beside the IPv4 one on a VLAN interface: added when
// missing, left alone when there, removed when the config drops it; the
// kernel's link-local address never counts (observe leaves it out). The
// address is added without duplicate address detection.
func TestPlanIPv6Address(t *testing.T) {
	v6 := netip.MustParsePrefix("fd00:20::1/64")
	d := filteringDesired()
	d.Addresses = append(d.Addresses, VLANAddress{VLAN: 20, Link: "vlan20", Prefix: v6})
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	o := converged()
	if got := steps(t, d, o); !slices.Equal(got, []string{"addr-add vlan20 fd00:20::1/64"}) {
		t.Errorf("missing IPv6 address: plan %q", got)
	}
	o.addrs["vlan20"] = append(o.addrs["vlan20"], v6)
	if got := steps(t, d, o); len(got) != 0 {
		t.Errorf("converged with IPv6: plan %q, want nothing", got)
	}
	if got := steps(t, filteringDesired(), o); !slices.Equal(got, []string{"addr-del vlan20 fd00:20::1/64"}) {
		t.Errorf("IPv6 address dropped from the config: plan %q", got)
	}
	if a := boxAddr(v6); a.Flags&unix.IFA_F_NODAD == 0 {
		t.Error("IPv6 box address added with duplicate address detection")
	}
	if a := boxAddr(netip.MustParsePrefix("10.0.20.1/24")); a.Flags != 0 {
		t.Errorf("IPv4 box address flags %#x", a.Flags)
	}
	d.Addresses = append(d.Addresses, VLANAddress{VLAN: 20, Link: "vlan20", Prefix: netip.MustParsePrefix("fe80::1/64")})
	if d.Validate() == nil {
		t.Error("a link-local box address is accepted")
	}
}
