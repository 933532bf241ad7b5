package vswitch

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
)

// observe reads the state plan needs. VLAN tables are read only when the
// bridge filters VLANs: without filtering they mean nothing.
func (s *Switch) observe(bridge string) (observed, error) {
	o := observed{
		links:       map[string]obsLink{},
		vlans:       map[string][]VLAN{},
		addrs:       map[string][]netip.Prefix{},
		defaultPVID: -1,
	}
	links, err := s.h.LinkList()
	if err != nil {
		return o, fmt.Errorf("list links: %w", err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	for _, l := range links {
		a := l.Attrs()
		ol := obsLink{
			Name:   a.Name,
			Index:  a.Index,
			Kind:   l.Type(),
			MAC:    a.HardwareAddr,
			Master: names[a.MasterIndex],
			Up:     a.Flags&net.FlagUp != 0,
			Alias:  a.Alias,
		}
		switch l := l.(type) {
		case *netlink.Vlan:
			ol.VlanID, ol.Parent = l.VlanId, names[a.ParentIndex]
		case *netlink.Bridge:
			if a.Name == bridge {
				o.filtering = l.VlanFiltering != nil && *l.VlanFiltering
				if l.VlanDefaultPVID != nil {
					o.defaultPVID = int(*l.VlanDefaultPVID)
				}
			}
		}
		o.links[a.Name] = ol
		if Owned(a.Alias) && ol.Kind == "vlan" {
			addrs, err := s.h.AddrList(l, netlink.FAMILY_V4)
			if err != nil {
				return o, fmt.Errorf("addresses of %s: %w", a.Name, err)
			}
			for _, ad := range addrs {
				if p, ok := prefixOf(ad.IPNet); ok {
					o.addrs[a.Name] = append(o.addrs[a.Name], p)
				}
			}
		}
	}
	if !o.filtering {
		return o, nil
	}
	table, err := s.h.BridgeVlanList()
	if err != nil {
		return o, fmt.Errorf("bridge VLAN table: %w", err)
	}
	for idx, infos := range table {
		name := names[int(idx)]
		if name != bridge && o.links[name].Master != bridge {
			continue
		}
		for _, in := range infos {
			o.vlans[name] = append(o.vlans[name], VLAN{
				ID:       int(in.Vid),
				PVID:     in.Flags&nl.BRIDGE_VLAN_INFO_PVID != 0,
				Untagged: in.Flags&nl.BRIDGE_VLAN_INFO_UNTAGGED != 0,
			})
		}
		sortVLANs(o.vlans[name])
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
