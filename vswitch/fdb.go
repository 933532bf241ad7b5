package vswitch

import (
	"fmt"
	"net"
	"sort"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// FDBEntry is one row of a bridge's forwarding database, its MAC table:
// which port a MAC was learnt on, in which VLAN.
type FDBEntry struct {
	MAC  net.HardwareAddr
	Port string
	// VLAN is 0 for an entry of a bridge without VLAN filtering.
	VLAN int
	// Local marks the bridge's and its ports' own addresses; Static an
	// entry added by hand; the others are learnt and age out.
	Local  bool
	Static bool
}

// ReadFDB reads the MAC table of bridge in the namespace h works in (nil:
// the calling thread's), sorted by port, VLAN and MAC. Entries a port
// keeps for itself (its own multicast and unicast filters, "self") are
// left out: they are the port's, not the bridge's.
func ReadFDB(h *netlink.Handle, bridge string) ([]FDBEntry, error) {
	if h == nil {
		h = &netlink.Handle{}
	}
	br, err := h.LinkByName(bridge)
	if err != nil {
		return nil, err
	}
	neighs, err := h.NeighList(0, unix.AF_BRIDGE)
	if err != nil {
		return nil, fmt.Errorf("bridge %s: MAC table: %w", bridge, err)
	}
	links, err := h.LinkList()
	if err != nil {
		return nil, err
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	brIndex := br.Attrs().Index
	var out []FDBEntry
	for _, n := range neighs {
		onBridge := n.LinkIndex == brIndex || n.MasterIndex == brIndex && n.Flags&netlink.NTF_SELF == 0
		if !onBridge {
			continue
		}
		out = append(out, FDBEntry{
			MAC: n.HardwareAddr, Port: names[n.LinkIndex], VLAN: n.Vlan,
			Local:  n.State&netlink.NUD_PERMANENT != 0,
			Static: n.State&netlink.NUD_NOARP != 0,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Port != b.Port {
			return a.Port < b.Port
		}
		if a.VLAN != b.VLAN {
			return a.VLAN < b.VLAN
		}
		return a.MAC.String() < b.MAC.String()
	})
	return out, nil
}
