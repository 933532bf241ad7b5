package plan

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/config"
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
