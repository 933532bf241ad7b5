package config

import (
	"net/netip"
)

// SLAACBits is the prefix length router advertisements need for
// stateless address autoconfiguration (RFC 4862 with Ethernet's 64-bit
// interface identifiers).
const SLAACBits = 64

// AdvertisesIPv6 reports whether the box sends router advertisements on
// the VLAN of a: it has an IPv6 address there and the VLAN does not reach
// the lab network, whose own routers advertise there.
func (u *Uplink) AdvertisesIPv6(a VLANAddress) bool {
	return a.IPv6 != "" && a.VLAN != u.NativeVLAN && !carriedTagged(u.VLANs, a.VLAN)
}

// ipv6 checks a box IPv6 address on vlan and claims it; nets are the
// other VLANs' IPv6 subnets, which it must not overlap.
func (ck *checker) ipv6(p string, vlan int, s string, nets *[]natNet) {
	pfx, ok := ck.ipv6Prefix(p, s, "fd00:10::1/64", "address")
	if !ok {
		return
	}
	if ck.c.Uplink.AdvertisesIPv6(VLANAddress{VLAN: vlan, IPv6: s}) && pfx.Bits() != SLAACBits {
		ck.add(p, "invalid address %q: the box advertises this VLAN's prefix for address autoconfiguration, which needs a /64", s)
		return
	}
	for _, o := range *nets {
		if o.sub.Overlaps(pfx.Masked()) {
			ck.add(p, "subnet %s overlaps %s of %s", pfx.Masked(), o.sub, ck.loc.ref(o.path))
			return
		}
	}
	*nets = append(*nets, natNet{pfx.Masked(), p})
	ck.claimIP(p, pfx.Addr())
}

const vmIPv6NeedsCloudInit = "a VM's static IPv6 address is set through cloud-init: add cloud-init: {} to the VM, or leave the address to SLAAC from the box's router advertisements"

// nicIPv6 checks the static IPv6 address of the NIC at path np, if any,
// and claims it.
func (ck *checker) nicIPv6(np string, n *NIC) {
	if n.IPv6.IsZero() {
		return
	}
	if len(n.Trunk) > 0 && n.Native == 0 {
		ck.add(np+".ipv6", "a trunk without a native VLAN carries no untagged traffic for an address: set native")
	}
	p, s := np+".ipv6.address", n.IPv6.Address
	if pfx, ok := ck.ipv6Prefix(p, s, "fd00:10::5/64", "ipv4"); ok {
		ck.claimIP(p, pfx.Addr())
	}
}

// ipv6Prefix parses s, at path p, as a unicast IPv6 address with a
// prefix length; example is shown in the error, and ipv4Field names where
// an IPv4 address given here belongs.
func (ck *checker) ipv6Prefix(p, s, example, ipv4Field string) (netip.Prefix, bool) {
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		ck.add(p, "invalid address %q: use an IPv6 address with prefix length such as %s", s, example)
		return pfx, false
	}
	a := pfx.Addr()
	switch {
	case !a.Is6() || a.Is4In6():
		ck.add(p, "invalid address %q: use an IPv6 address here (the IPv4 one goes in %s)", s, ipv4Field)
	case a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() || a.IsLinkLocalUnicast():
		ck.add(p, "invalid address %q: not a global or unique local unicast address (link-local addresses are made by the kernel)", s)
	case pfx.Bits() == 0 || pfx.Bits() == 128:
		ck.add(p, "invalid address %q: prefix length must be between 1 and 127", s)
	default:
		return pfx, true
	}
	return pfx, false
}

// claimIP records that the address at path p is a, or says who has it.
func (ck *checker) claimIP(p string, a netip.Addr) {
	if prev, dup := ck.ips[a]; dup {
		ck.add(p, "address %s is also used by %s", a, ck.loc.ref(prev))
	} else {
		ck.ips[a] = p
	}
}
