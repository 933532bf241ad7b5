package api

import (
	"github.com/nucbox/nucbox/vswitch"
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
	// Port names the workload port a bridge port is (web.0), from the
	// link's alias.
	Port  string    `json:"port,omitempty"`
	Stats LinkStats `json:"stats"`
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
	RxDropped uint64 `json:"rx_dropped"`
	TxDropped uint64 `json:"tx_dropped"`
}

// netlinkLinks reads the links of the box's network namespace, through
// the switch's one reading of links.
func netlinkLinks() ([]Link, error) {
	// A host without bridges, or a kernel without the bridge module,
	// has no VLAN table to show; that is not an error of the status.
	t, err := vswitch.ReadLinks(nil)
	if err != nil {
		return nil, err
	}
	out := make([]Link, 0, len(t.Links))
	for _, l := range t.Links {
		k := Link{
			Name:   l.Name,
			Index:  l.Index,
			Type:   l.Kind,
			MTU:    l.MTU,
			State:  l.OperState,
			Master: l.Master,
		}
		if len(l.MAC) > 0 {
			k.MAC = l.MAC.String()
		}
		if s := l.Stats; s != nil {
			k.Stats = LinkStats{RxBytes: s.RxBytes, TxBytes: s.TxBytes, RxPackets: s.RxPackets, TxPackets: s.TxPackets, RxErrors: s.RxErrors, TxErrors: s.TxErrors,
				RxDropped: s.RxDropped, TxDropped: s.TxDropped}
		}
		k.Port = vswitch.PortName(l.Alias)
		for _, p := range l.Addresses {
			k.Addresses = append(k.Addresses, p.String())
		}
		for _, v := range l.VLANs {
			k.VLANs = append(k.VLANs, PortVLAN{ID: v.ID, PVID: v.PVID, Untagged: v.Untagged})
		}
		out = append(out, k)
	}
	return out, nil
}
