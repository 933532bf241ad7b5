package vswitch

import (
	"net"
	"net/netip"
)

// observe reads the state plan needs, from the one reading of the links
// (ReadLinks). VLAN tables count only when the bridge filters VLANs:
// without filtering they mean nothing.
func (s *Switch) observe(bridge string) (observed, error) {
	o := observed{
		links:       map[string]obsLink{},
		vlans:       map[string][]VLAN{},
		addrs:       map[string][]netip.Prefix{},
		defaultPVID: -1,
	}
	t, err := ReadLinks(s.h)
	if err != nil {
		return o, err
	}
	vx := map[int]string{}
	for _, l := range t.Links {
		o.links[l.Name] = obsLink{
			Name: l.Name, Index: l.Index, Kind: l.Kind, MAC: l.MAC, Master: l.Master,
			Up: l.Up, Alias: l.Alias, VlanID: l.VLANID, Parent: l.Parent, MTU: l.MTU, Tunnel: l.Tunnel,
		}
		if Owned(l.Alias) && l.Kind == string(KindVXLAN) {
			vx[l.Index] = l.Name
		}
		if l.Kind == "bridge" && l.Name == bridge {
			o.filtering, o.defaultPVID = l.Filtering, l.DefaultPVID
		}
		if Owned(l.Alias) && l.Kind == "vlan" {
			for _, p := range l.Addresses {
				// Link-local addresses are the kernel's, not the config's.
				if p.Addr().Is4() || !p.Addr().IsLinkLocalUnicast() {
					o.addrs[l.Name] = append(o.addrs[l.Name], p)
				}
			}
		}
	}
	if len(vx) > 0 {
		idx := map[int]bool{}
		for i := range vx {
			idx[i] = true
		}
		fdb, err := readFDB(s.h, idx)
		if err != nil {
			return o, err
		}
		for i, name := range vx {
			l := o.links[name]
			l.FloodTo = floodRemotes(fdb[i])
			o.links[name] = l
		}
	}
	if !o.filtering {
		return o, nil
	}
	if t.VLANErr != nil {
		return o, t.VLANErr
	}
	for _, l := range t.Links {
		if l.Name == bridge || l.Master == bridge {
			if len(l.VLANs) > 0 {
				o.vlans[l.Name] = l.VLANs
			}
		}
	}
	return o, nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

func ipNet(p netip.Prefix) *net.IPNet {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}
}
