package config

import (
	"fmt"
	"net/netip"
	"slices"
)

// vlanAddresses checks the box's addresses on VLANs: one per VLAN, an
// IPv4 address, an IPv6 one or both (an IPv6-only VLAN has no DHCP
// server, which hands out IPv4 addresses, and no lab gateway for the
// VLAN check, which asks by ARP), and subnets that overlap neither each
// other nor the uplink's.
func (ck *checker) vlanAddresses() {
	u := &ck.c.Uplink
	addrVLANs := map[int]string{}
	var natNets, v6Nets []natNet
	for i, a := range u.Addresses {
		p := fmt.Sprintf("uplink.addresses[%d]", i)
		switch {
		case a.VLAN == 0:
			ck.add(p+".vlan", "required: the VLAN id of this address, between 1 and 4094")
		case !ck.vlanID(p+".vlan", a.VLAN):
		case a.VLAN == u.NativeVLAN:
			ck.add(p+".vlan", "VLAN %d is the uplink's native VLAN, where the box's address is uplink.ipv4", a.VLAN)
		case addrVLANs[a.VLAN] != "":
			ck.add(p+".vlan", "VLAN %d already has a box address at %s", a.VLAN, ck.loc.ref(addrVLANs[a.VLAN]))
		default:
			addrVLANs[a.VLAN] = p
			ck.link(p+".vlan", VLANIfName(a.VLAN))
		}
		switch {
		case a.Address == "" && a.IPv6 == "":
			ck.add(p+".address", "required: an address with prefix length such as 10.0.10.1/24 (or only ipv6 for an IPv6-only VLAN)")
		case a.Address == "":
			if a.DHCP != nil {
				ck.add(p+".dhcp", "the DHCP server hands out IPv4 addresses and this VLAN has none: add address, or leave dhcp out (workloads on an IPv6-only VLAN take addresses from the box's router adverts)")
			}
			if a.Gateway != "" {
				ck.add(p+".gateway", "the gateway is asked by ARP, over IPv4, and this VLAN has no IPv4 address: add address or leave gateway out")
			}
		default:
			if pfx, ok := ck.cidr(p+".address", a.Address); ok {
				if a.NAT {
					ck.natSubnet(p, pfx.Masked(), natNets)
					natNets = append(natNets, natNet{pfx.Masked(), p})
				}
				ck.vlanGateway(p, a, pfx)
			}
		}
		if a.IPv6 != "" {
			ck.ipv6(p+".ipv6", a.VLAN, a.IPv6, &v6Nets)
		}
	}
	ck.uplinkIPv6(v6Nets)
}

// vlanGateway checks the lab router the VLAN check asks on an uplink VLAN.
func (ck *checker) vlanGateway(p string, a VLANAddress, pfx netip.Prefix) {
	if a.Gateway == "" {
		return
	}
	gw, err := netip.ParseAddr(a.Gateway)
	switch {
	case err != nil || !gw.Is4():
		ck.add(p+".gateway", "invalid gateway %q: use an IPv4 address", a.Gateway)
	case !pfx.Masked().Contains(gw) || gw == pfx.Addr():
		ck.add(p+".gateway", "gateway %s is not another address in %s", gw, pfx.Masked())
	case !slices.Contains(ck.c.Uplink.VLANs, a.VLAN):
		ck.add(p+".gateway", "VLAN %d is not one of uplink.vlans: a gateway is the lab's router on a VLAN the switch port carries, for the VLAN check", a.VLAN)
	}
}

type natNet struct {
	sub  netip.Prefix
	path string
}

// natSubnet rejects a masqueraded subnet that overlaps the uplink's own
// subnet or another masqueraded one: the box would have two routes for the
// same destinations, and replies would leave by the wrong interface.
func (ck *checker) natSubnet(p string, sub netip.Prefix, others []natNet) {
	u := &ck.c.Uplink
	if !u.IPv4.DHCP && u.IPv4.Address != "" {
		if up, err := netip.ParsePrefix(u.IPv4.Address); err == nil && up.Masked().Overlaps(sub) {
			ck.add(p+".nat", "subnet %s overlaps the uplink's subnet %s: it cannot be routed to the uplink", sub, up.Masked())
			return
		}
	}
	for _, o := range others {
		if o.sub.Overlaps(sub) {
			ck.add(p+".nat", "subnet %s overlaps %s, also masqueraded at %s", sub, o.sub, ck.loc.ref(o.path))
			return
		}
	}
}
