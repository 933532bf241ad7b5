package vswitch

import (
	"fmt"
	"net"
	"net/netip"
	"sort"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
)

// Link is one network interface as the kernel reports it. ReadLinks is
// the one reading of the links of a namespace: the switch plans from it
// and the box's status shows it.
type Link struct {
	Name  string
	Index int
	// Kind is netlink's type: bridge, tuntap, veth, vlan, device...
	Kind string
	MAC  net.HardwareAddr
	MTU  int
	// OperState is the kernel's operstate (up, down, lowerlayerdown...);
	// Up is the administrative state.
	OperState string
	Up        bool
	// Master is the name of the link's bridge or bond, "" when none.
	Master string
	Alias  string
	// VLANID and Parent describe a VLAN link.
	VLANID int
	Parent string
	// Filtering and DefaultPVID describe a bridge; DefaultPVID is -1
	// when the kernel does not say.
	Filtering   bool
	DefaultPVID int
	// Addresses are the link's IPv4 and IPv6 addresses.
	Addresses []netip.Prefix
	// VLANs is the link's row of its bridge's VLAN table (a bridge's own
	// row for the bridge itself), sorted by ID.
	VLANs []VLAN
	Stats *netlink.LinkStatistics
	// Tunnel describes a VXLAN or gretap device (not its FDB).
	Tunnel *Tunnel
	// Bond describes a bond, BondSlave a bond's member.
	Bond      *BondInfo
	BondSlave *BondSlaveInfo
}

// LinkTable is every link of a namespace, sorted by index.
type LinkTable struct {
	Links []Link
	// VLANErr is why the bridges' VLAN tables could not be read (a kernel
	// without the bridge module has none); the links are complete
	// without their VLAN rows.
	VLANErr error
}

// ReadLinks reads the links of the namespace h works in, with their
// addresses (one dump for all links) and bridge VLAN rows. A nil h reads
// the calling thread's namespace.
func ReadLinks(h *netlink.Handle) (LinkTable, error) {
	if h == nil {
		h = &netlink.Handle{}
	}
	var t LinkTable
	links, err := h.LinkList()
	if err != nil {
		return t, fmt.Errorf("list links: %w", err)
	}
	addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return t, fmt.Errorf("list addresses: %w", err)
	}
	byIndex := map[int][]netip.Prefix{}
	for _, ad := range addrs {
		if p, ok := prefixOf(ad.IPNet); ok {
			byIndex[ad.LinkIndex] = append(byIndex[ad.LinkIndex], p)
		}
	}
	table, verr := h.BridgeVlanList()
	if verr != nil {
		t.VLANErr = fmt.Errorf("bridge VLAN table: %w", verr)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	for _, l := range links {
		a := l.Attrs()
		k := Link{
			Name:        a.Name,
			Index:       a.Index,
			Kind:        l.Type(),
			MAC:         a.HardwareAddr,
			MTU:         a.MTU,
			OperState:   a.OperState.String(),
			Up:          a.Flags&net.FlagUp != 0,
			Master:      names[a.MasterIndex],
			Alias:       a.Alias,
			DefaultPVID: -1,
			Addresses:   byIndex[a.Index],
			Stats:       a.Statistics,
		}
		switch l := l.(type) {
		case *netlink.Vlan:
			k.VLANID, k.Parent = l.VlanId, names[a.ParentIndex]
		case *netlink.Vxlan:
			k.Tunnel = &Tunnel{VNI: l.VxlanId, Group: addrOf(l.Group), Local: addrOf(l.SrcAddr), Port: l.Port}
		case *netlink.Gretap:
			k.Tunnel = &Tunnel{Local: addrOf(l.Local)}
			if r := addrOf(l.Remote); r.IsValid() {
				k.Tunnel.Remotes = []netip.Addr{r}
			}
		case *netlink.Bond:
			k.Bond = bondInfo(l, names)
		case *netlink.Bridge:
			k.Filtering = l.VlanFiltering != nil && *l.VlanFiltering
			if l.VlanDefaultPVID != nil {
				k.DefaultPVID = int(*l.VlanDefaultPVID)
			}
		}
		if bs, ok := a.Slave.(*netlink.BondSlave); ok {
			k.BondSlave = bondSlaveInfo(bs)
		}
		for _, in := range table[int32(a.Index)] {
			k.VLANs = append(k.VLANs, VLAN{
				ID:       int(in.Vid),
				PVID:     in.Flags&nl.BRIDGE_VLAN_INFO_PVID != 0,
				Untagged: in.Flags&nl.BRIDGE_VLAN_INFO_UNTAGGED != 0,
			})
		}
		sortVLANs(k.VLANs)
		t.Links = append(t.Links, k)
	}
	sort.Slice(t.Links, func(i, j int) bool { return t.Links[i].Index < t.Links[j].Index })
	return t, nil
}
