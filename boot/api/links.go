package api

import (
	"sort"

	"github.com/vishvananda/netlink"
)

// Link is a network interface with its addresses and counters.
type Link struct {
	Name      string   `json:"name"`
	Index     int      `json:"index"`
	Type      string   `json:"type"`
	MAC       string   `json:"mac,omitempty"`
	MTU       int      `json:"mtu"`
	State     string   `json:"state"` // operstate: up, down, unknown, lowerlayerdown ...
	Master    string   `json:"master,omitempty"`
	Addresses []string `json:"addresses,omitempty"`
	// VLANs is the port's row of its bridge's VLAN table.
	VLANs []PortVLAN `json:"vlans,omitempty"`
	Stats LinkStats  `json:"stats"`
}

// PortVLAN is one VLAN on a bridge port.
type PortVLAN struct {
	ID       int  `json:"id"`
	PVID     bool `json:"pvid,omitempty"`
	Untagged bool `json:"untagged,omitempty"`
}

// LinkStats are the kernel's counters of a link.
type LinkStats struct {
	RxBytes   uint64 `json:"rx_bytes"`
	TxBytes   uint64 `json:"tx_bytes"`
	RxPackets uint64 `json:"rx_packets"`
	TxPackets uint64 `json:"tx_packets"`
	RxErrors  uint64 `json:"rx_errors"`
	TxErrors  uint64 `json:"tx_errors"`
}

// netlinkLinks reads the links of the box's network namespace.
func netlinkLinks() ([]Link, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, err
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	// A host without bridges, or a kernel without the bridge module,
	// has no table to show; that is not an error of the status.
	vlans, _ := netlink.BridgeVlanList()
	out := make([]Link, 0, len(links))
	for _, l := range links {
		a := l.Attrs()
		k := Link{
			Name:   a.Name,
			Index:  a.Index,
			Type:   l.Type(),
			MTU:    a.MTU,
			State:  a.OperState.String(),
			Master: names[a.MasterIndex],
		}
		if len(a.HardwareAddr) > 0 {
			k.MAC = a.HardwareAddr.String()
		}
		if s := a.Statistics; s != nil {
			k.Stats = LinkStats{RxBytes: s.RxBytes, TxBytes: s.TxBytes, RxPackets: s.RxPackets, TxPackets: s.TxPackets, RxErrors: s.RxErrors, TxErrors: s.TxErrors}
		}
		if addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL); err == nil {
			for _, ad := range addrs {
				if ad.IPNet != nil {
					k.Addresses = append(k.Addresses, ad.IPNet.String())
				}
			}
		}
		for _, v := range vlans[int32(a.Index)] {
			k.VLANs = append(k.VLANs, PortVLAN{ID: int(v.Vid), PVID: v.PortVID(), Untagged: v.EngressUntag()})
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, nil
}
