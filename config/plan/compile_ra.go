package plan

import (
	"net/netip"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/netcfg/dnsd"
	"github.com/nucbox/nucbox/netcfg/radvd"
)

// adverts compiles the box's router adverts: one link per box address
// with ipv6 on a VLAN the uplink does not carry, naming the box as DNS
// server where it serves DNS (dhcp), whose server then also listens on
// the box's IPv6 address there.
func (b *compiler) adverts(dns *dnsd.Spec) radvd.Spec {
	u := &b.c.Uplink
	var s radvd.Spec
	for _, a := range u.Addresses {
		if !u.AdvertisesIPv6(a) {
			continue
		}
		p, err := netip.ParsePrefix(a.IPv6)
		if err != nil {
			b.fail("uplink IPv6 address on VLAN %d: %w", a.VLAN, err)
			continue
		}
		link := config.VLANIfName(a.VLAN)
		// With NAT66 the box is the VLAN's router: its adverts say so
		// (a router lifetime), and workloads route through it.
		l := radvd.Link{VLAN: a.VLAN, Interface: link, Prefix: p, Router: a.NAT}
		if servesDNS(u, a) {
			l.DNS = []netip.Addr{p.Addr()}
			dns.Listen = append(dns.Listen, dnsd.Listener{Interface: link, Address: p})
		}
		if a.DHCP != nil {
			l.MTU = a.DHCP.MTU
		}
		if l.MTU == 0 {
			l.MTU = overlayMTUOf(b.c, a.VLAN)
		}
		if l.MTU != 0 && l.MTU < 1280 {
			// IPv6 needs 1280; a smaller tunnel MTU is not advertised.
			l.MTU = 0
		}
		s.Links = append(s.Links, l)
	}
	return s
}

// ipv6 is a NIC's static IPv6 address, invalid for none.
func (b *compiler) ipv6(what string, a config.IPv6) netip.Prefix {
	if a.IsZero() {
		return netip.Prefix{}
	}
	p, err := netip.ParsePrefix(a.Address)
	if err != nil {
		b.fail("%s: %w", what, err)
	}
	return p
}
