package plan

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/netcfg"
	"github.com/nucbox/nucbox/netcfg/radvd"
)

// Box IPv6 addresses: the VLAN interfaces get them; the box advertises on
// internal VLANs only, naming itself as DNS server (and listening there)
// where it serves DHCP and DNS, and not on a VLAN the uplink carries.
func TestCompileAdverts(t *testing.T) {
	c, err := config.Parse("box.yaml", []byte(`
hostname: v6box
uplink:
  vlans: [30]
  addresses:
    - {vlan: 10, address: 10.0.10.1/24, ipv6: "fd00:10::1/64", dhcp: {range: 10.0.10.100-10.0.10.199}}
    - {vlan: 20, address: 10.0.20.1/24, ipv6: "fd00:20::1/64"}
    - {vlan: 30, address: 10.0.30.1/24, ipv6: "2001:db8:30::1/64"}
containers:
  - {name: web, image: busybox:1, nics: [{vlan: 10}, {vlan: 20}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	d := p.Desired
	want := []radvd.Link{
		{VLAN: 10, Interface: "vlan10", Prefix: netip.MustParsePrefix("fd00:10::1/64"), DNS: []netip.Addr{netip.MustParseAddr("fd00:10::1")}},
		{VLAN: 20, Interface: "vlan20", Prefix: netip.MustParsePrefix("fd00:20::1/64")},
	}
	if fmt.Sprint(d.RA.Links) != fmt.Sprint(want) {
		t.Errorf("adverts %+v\nwant %+v", d.RA.Links, want)
	}
	var listen []string
	for _, l := range d.DNS.Listen {
		listen = append(listen, l.Interface+" "+l.Address.String())
	}
	if got := strings.Join(listen, ", "); got != "vlan10 10.0.10.1/24, vlan10 fd00:10::1/64" {
		t.Errorf("DNS listens on %s", got)
	}
	var addrs []string
	for _, a := range d.Switch.Addresses {
		addrs = append(addrs, a.Link+" "+a.Prefix.String())
	}
	if got := strings.Join(addrs, ", "); got != "vlan10 10.0.10.1/24, vlan10 fd00:10::1/64, vlan20 10.0.20.1/24, vlan20 fd00:20::1/64, vlan30 10.0.30.1/24, vlan30 2001:db8:30::1/64" {
		t.Errorf("box addresses %s", got)
	}
	if err := d.Switch.Validate(); err != nil {
		t.Error(err)
	}
	// The plan says where the box advertises: VLAN 10 with DNS, VLAN 20
	// without, VLAN 30 (the uplink's) not at all.
	adverts := map[string]string{}
	for _, st := range p.Steps {
		if st.Kind != KindVLANAddress {
			continue
		}
		for _, dt := range st.Details {
			if dt.Key == "router adverts" {
				adverts[st.Name] = dt.Value
			}
		}
	}
	if fmt.Sprint(adverts) != "map[vlan10:prefix fd00:10::/64 (SLAAC), no default route, DNS at the box vlan20:prefix fd00:20::/64 (SLAAC), no default route]" {
		t.Errorf("plan's router adverts: %v", adverts)
	}
}

// The rest of IPv6: a static uplink address, an IPv6-only VLAN with
// NAT66 (the box its default router, DNS there without DHCP), a
// workload's static IPv6 address as an AAAA name and in its port's spoof
// guard, and the firewall's IPv6 subnets.
func TestCompileIPv6(t *testing.T) {
	c, err := config.Parse("box.yaml", []byte(`
hostname: v6box
uplink:
  ipv6: {address: "2001:db8::10/64", gateway: "fe80::1"}
  addresses:
    - {vlan: 10, address: 10.0.10.1/24, ipv6: "fd00:10::1/64", dhcp: {range: 10.0.10.100-10.0.10.199}}
    - {vlan: 40, ipv6: "fd00:40::1/64", nat: true}
containers:
  - {name: web, image: busybox:1, nics: [{vlan: 10, ipv4: {address: 10.0.10.5/24}, ipv6: {address: "fd00:10::5/64"}}]}
  - {name: six, image: busybox:1, nics: [{vlan: 40, ipv6: {address: "fd00:40::7/64"}}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	d := p.Desired
	if got, want := d.Network.IPv6, (netcfg.IPv6{Mode: netcfg.IPv6Static, Address: netip.MustParsePrefix("2001:db8::10/64"), Gateway: netip.MustParseAddr("fe80::1")}); got != want {
		t.Errorf("uplink IPv6 %+v, want %+v", got, want)
	}
	if d.Firewall.UplinkIPv6 != netcfg.IPv6Static {
		t.Errorf("firewall's uplink IPv6 mode %q", d.Firewall.UplinkIPv6)
	}
	want := []radvd.Link{
		{VLAN: 10, Interface: "vlan10", Prefix: netip.MustParsePrefix("fd00:10::1/64"), DNS: []netip.Addr{netip.MustParseAddr("fd00:10::1")}},
		{VLAN: 40, Interface: "vlan40", Prefix: netip.MustParsePrefix("fd00:40::1/64"), DNS: []netip.Addr{netip.MustParseAddr("fd00:40::1")}, Router: true},
	}
	if fmt.Sprint(d.RA.Links) != fmt.Sprint(want) {
		t.Errorf("adverts %+v\nwant %+v", d.RA.Links, want)
	}
	var listen []string
	for _, l := range d.DNS.Listen {
		listen = append(listen, l.Interface+" "+l.Address.String())
	}
	if got := strings.Join(listen, ", "); got != "vlan10 10.0.10.1/24, vlan10 fd00:10::1/64, vlan40 fd00:40::1/64" {
		t.Errorf("DNS listens on %s", got)
	}
	if got := fmt.Sprint(d.DNS.Hosts); got != "[{six [fd00:40::7]} {web [10.0.10.5 fd00:10::5]}]" || d.DNS.Self != "v6box" {
		t.Errorf("DNS names %s, self %q", got, d.DNS.Self)
	}
	if len(d.DHCP.Scopes) != 1 || d.DHCP.Scopes[0].VLAN != 10 {
		t.Errorf("DHCP scopes %+v, want VLAN 10's only", d.DHCP.Scopes)
	}
	var addrs []string
	for _, a := range d.Switch.Addresses {
		addrs = append(addrs, a.Link+" "+a.Prefix.String())
	}
	if got := strings.Join(addrs, ", "); got != "vlan10 10.0.10.1/24, vlan10 fd00:10::1/64, vlan40 fd00:40::1/64" {
		t.Errorf("box addresses %s", got)
	}
	segs := fmt.Sprint(d.Firewall.Segments)
	if !strings.Contains(segs, "{vlan40 invalid Prefix fd00:40::/64 true [53] [53]}") || !strings.Contains(segs, "{vlan10 10.0.10.0/24 fd00:10::/64 false [53] [53 67]}") {
		t.Errorf("firewall segments %s", segs)
	}
	if nats := fmt.Sprint(d.Firewall.NATs()); nats != "[vlan40 fd00:40::/64]" {
		t.Errorf("NATs %s", nats)
	}
	for _, pp := range d.Policy.Ports {
		switch pp.Name {
		case "web.0":
			if pp.IPv6 != netip.MustParseAddr("fd00:10::5") || pp.SLAAC != netip.MustParsePrefix("fd00:10::/64") {
				t.Errorf("web's port: IPv6 %s SLAAC %s", pp.IPv6, pp.SLAAC)
			}
		case "six.0":
			if pp.IPv6 != netip.MustParseAddr("fd00:40::7") || pp.SLAAC != netip.MustParsePrefix("fd00:40::/64") {
				t.Errorf("six's port: IPv6 %s SLAAC %s", pp.IPv6, pp.SLAAC)
			}
		}
	}
	if err := errors.Join(d.Network.Validate(), d.Firewall.Validate(), d.RA.Validate(), d.DNS.Validate(), d.Policy.Validate()); err != nil {
		t.Error(err)
	}
	var text strings.Builder
	for _, st := range p.Steps {
		for _, dt := range st.Details {
			fmt.Fprintf(&text, "%s %s: %s\n", st.Name, dt.Key, dt.Value)
		}
	}
	for _, want := range []string{
		"br0 ipv6: 2001:db8::10/64 via fe80::1 (static; router adverts ignored, gateway probed by neighbour solicitation)",
		"vlan40 address: none: IPv6 only (no DHCP server)",
		"vlan40 router adverts: prefix fd00:40::/64 (SLAAC), the box as default router (NAT66), DNS at the box",
		"inet nucbox vlan40 forwarded: from fd00:40::/64 only, to the uplink, masqueraded",
		"inet nucbox ipv6 forwarding: NAT66 from vlan40",
		"inet nucbox vlan40 to the box: ping, DNS",
		"guards spoof (MAC",
		"IPv6 fd00:10::5 and its MAC's link-local and SLAAC",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, text.String())
		}
	}
}
