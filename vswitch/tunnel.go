package vswitch

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Tunnel ports carry one bridge VLAN to other boxes. Each is an access
// port of its VLAN (untagged, PVID), so a tunnel carries exactly one VLAN
// and two overlays never meet: the bridge keeps their VLANs apart as it
// keeps any two access ports apart.
const (
	// KindVXLAN is a VXLAN device: unicast to Remotes (head-end
	// replication through all-zero FDB entries) or a multicast Group.
	KindVXLAN PortKind = "vxlan"
	// KindGretap is a point-to-point Ethernet-over-GRE device.
	KindGretap PortKind = "gretap"
)

// ErrNoTunnel means the kernel cannot create the tunnel device (module
// vxlan or ip_gre missing).
var ErrNoTunnel = errors.New("the kernel cannot create the tunnel (modules vxlan, ip_gre)")

// Tunnel is the far side and the identity of a tunnel port.
type Tunnel struct {
	// VNI is the VXLAN network identifier (VXLAN only).
	VNI int `json:"vni,omitempty"`
	// Remotes are the other boxes' addresses: every one of them for
	// unicast VXLAN, the one peer of a gretap.
	Remotes []netip.Addr `json:"remotes,omitempty"`
	// Group is a VXLAN multicast group, instead of Remotes.
	Group netip.Addr `json:"group,omitzero"`
	// Port is VXLAN's UDP port.
	Port int `json:"port,omitempty"`
	// Local is the box's own address, the tunnel's source; the network
	// stage fills it in (WithTunnelSource) once it has the uplink's.
	Local netip.Addr `json:"local,omitzero"`
	// Dev is the link that holds Local, where a multicast group is
	// joined.
	Dev string `json:"dev,omitempty"`
}

// WithTunnelSource is d with every tunnel's source set to the box's
// address local on link dev.
func (d Desired) WithTunnelSource(local netip.Addr, dev string) Desired {
	ports := slices.Clone(d.Ports)
	for i, p := range ports {
		if p.Tunnel == nil {
			continue
		}
		t := *p.Tunnel
		t.Local, t.Dev = local, dev
		ports[i].Tunnel = &t
	}
	d.Ports = ports
	return d
}

func isTunnel(k PortKind) bool { return k == KindVXLAN || k == KindGretap }

// sameTunnel reports whether the kernel's device has the identity p asks
// for; the unicast remotes of a VXLAN are FDB entries, changed in place.
func sameTunnel(p Port, l obsLink) bool {
	w, h := p.Tunnel, l.Tunnel
	if w == nil || h == nil || string(p.Kind) != l.Kind {
		return false
	}
	if p.Kind == KindGretap {
		return w.Local == h.Local && slices.Equal(w.Remotes, h.Remotes)
	}
	return w.VNI == h.VNI && w.Local == h.Local && w.Group == h.Group && w.Port == h.Port
}

// fdbDiff adds the head-end replication entries a unicast VXLAN lacks and
// removes those it should no longer have.
func fdbDiff(p Port, have []netip.Addr) []action {
	if p.Kind != KindVXLAN || p.Tunnel == nil {
		return nil
	}
	var acts []action
	for _, r := range have {
		if !slices.Contains(p.Tunnel.Remotes, r) {
			acts = append(acts, action{Op: opFDBDel, Link: p.Name, Addr: netip.PrefixFrom(r, 32)})
		}
	}
	for _, r := range p.Tunnel.Remotes {
		if !slices.Contains(have, r) {
			acts = append(acts, action{Op: opFDBAdd, Link: p.Name, Addr: netip.PrefixFrom(r, 32)})
		}
	}
	return acts
}

func ip(a netip.Addr) net.IP {
	if !a.IsValid() {
		return nil
	}
	return a.AsSlice()
}

func addrOf(b net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(b)
	if !ok || a.Unmap().IsUnspecified() {
		return netip.Addr{}
	}
	return a.Unmap()
}

// createTunnel makes a VXLAN or gretap device, down. VXLAN learns remote
// MACs itself (the MAC-to-box table status shows); the bridge learns which
// MACs lie behind the port.
func (s *Switch) createTunnel(p Port) error {
	t := p.Tunnel
	attrs := netlink.LinkAttrs{Name: p.Name, MTU: p.MTU, Alias: portAlias(p)}
	var l netlink.Link
	switch p.Kind {
	case KindVXLAN:
		x := &netlink.Vxlan{LinkAttrs: attrs, VxlanId: t.VNI, SrcAddr: ip(t.Local), Port: t.Port, Learning: true}
		if t.Group.IsValid() {
			x.Group = ip(t.Group)
			if t.Dev != "" {
				dl, err := s.h.LinkByName(t.Dev)
				if err != nil {
					return err
				}
				x.VtepDevIndex = dl.Attrs().Index
			}
		}
		l = x
	case KindGretap:
		g := &netlink.Gretap{LinkAttrs: attrs, Local: ip(t.Local), Ttl: 64, PMtuDisc: 1}
		if len(t.Remotes) > 0 {
			g.Remote = ip(t.Remotes[0])
		}
		l = g
	default:
		return fmt.Errorf("port %s: %s is not a tunnel", p.Name, p.Kind)
	}
	err := s.mut(func() error { return s.h.LinkAdd(l) })
	if errors.Is(err, syscall.EOPNOTSUPP) {
		return ErrNoTunnel
	}
	if err != nil {
		return err
	}
	return s.ensureAlias(p.Name, portAlias(p))
}

// fdb adds or removes an all-zero FDB entry: broadcast, multicast and
// unknown unicast frames are copied to that remote.
func (s *Switch) fdb(name string, remote netip.Addr, add bool) error {
	l, err := s.h.LinkByName(name)
	if err != nil {
		return err
	}
	n := &netlink.Neigh{
		LinkIndex:    l.Attrs().Index,
		Family:       unix.AF_BRIDGE,
		State:        netlink.NUD_PERMANENT | netlink.NUD_NOARP,
		Flags:        netlink.NTF_SELF,
		IP:           ip(remote),
		HardwareAddr: make(net.HardwareAddr, 6),
	}
	if add {
		return s.mut(func() error { return s.h.NeighAppend(n) })
	}
	return s.mut(func() error { return s.h.NeighDel(n) })
}

// fdbEntry is one row of a tunnel device's forwarding table.
type fdbEntry struct {
	MAC    net.HardwareAddr
	Remote netip.Addr // the VXLAN's own entries name the box behind the MAC
	Self   bool       // the device's own table rather than the bridge's
	Static bool
}

// readFDB reads the forwarding entries of the links in idx, by link
// index, from one dump.
func readFDB(h *netlink.Handle, idx map[int]bool) (map[int][]fdbEntry, error) {
	ns, err := h.NeighList(0, unix.AF_BRIDGE)
	if err != nil {
		return nil, fmt.Errorf("bridge FDB: %w", err)
	}
	out := map[int][]fdbEntry{}
	for _, n := range ns {
		if !idx[n.LinkIndex] {
			continue
		}
		out[n.LinkIndex] = append(out[n.LinkIndex], fdbEntry{
			MAC: n.HardwareAddr, Remote: addrOf(n.IP), Self: n.Flags&netlink.NTF_SELF != 0,
			Static: n.State&(netlink.NUD_PERMANENT|netlink.NUD_NOARP) != 0,
		})
	}
	return out, nil
}

var zeroMAC = make(net.HardwareAddr, 6)

// floodRemotes are the head-end replication entries among es. The
// kernel's own entry for a multicast group is not one of them.
func floodRemotes(es []fdbEntry) []netip.Addr {
	var out []netip.Addr
	for _, e := range es {
		if e.Self && bytes.Equal(e.MAC, zeroMAC) && e.Remote.IsValid() && !e.Remote.IsMulticast() && !slices.Contains(out, e.Remote) {
			out = append(out, e.Remote)
		}
	}
	return out
}

// TunnelStatus is one tunnel port and what it learned.
type TunnelStatus struct {
	Name    string       `json:"name"`
	Kind    PortKind     `json:"kind"`
	VLAN    int          `json:"vlan"`
	VNI     int          `json:"vni,omitempty"`
	Local   netip.Addr   `json:"local,omitzero"`
	Remotes []netip.Addr `json:"remotes,omitempty"`
	Group   netip.Addr   `json:"group,omitzero"`
	MTU     int          `json:"mtu"`
	Up      bool         `json:"up"`
	// Learned are the MACs behind the tunnel: the bridge learned them on
	// the port, and a VXLAN names the box each one lives behind.
	Learned []LearnedMAC `json:"learned,omitempty"`
}

// LearnedMAC is one workload MAC reached over a tunnel.
type LearnedMAC struct {
	MAC    string     `json:"mac"`
	Remote netip.Addr `json:"remote,omitzero"`
}

// Tunnels reads the tunnel ports d names as the kernel has them.
func (s *Switch) Tunnels(d Desired) ([]TunnelStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := ReadLinks(s.h)
	if err != nil {
		return nil, err
	}
	byName := map[string]Link{}
	idx := map[int]bool{}
	for _, l := range t.Links {
		byName[l.Name] = l
		if isTunnel(PortKind(l.Kind)) {
			idx[l.Index] = true
		}
	}
	fdb, err := readFDB(s.h, idx)
	if err != nil {
		return nil, err
	}
	var out []TunnelStatus
	for _, p := range d.Ports {
		l, ok := byName[p.Name]
		if !isTunnel(p.Kind) || !ok || l.Tunnel == nil {
			continue
		}
		ts := TunnelStatus{Name: l.Name, Kind: p.Kind, VLAN: p.VLAN, VNI: l.Tunnel.VNI, Local: l.Tunnel.Local,
			Group: l.Tunnel.Group, MTU: l.MTU, Up: l.Up}
		es := fdb[l.Index]
		ts.Remotes = floodRemotes(es)
		if p.Kind == KindGretap {
			ts.Remotes = l.Tunnel.Remotes
		}
		remoteOf := map[string]netip.Addr{}
		for _, e := range es {
			if e.Self && e.Remote.IsValid() {
				remoteOf[e.MAC.String()] = e.Remote
			}
		}
		for _, e := range es {
			if e.Self || e.Static || bytes.Equal(e.MAC, zeroMAC) {
				continue
			}
			ts.Learned = append(ts.Learned, LearnedMAC{MAC: e.MAC.String(), Remote: remoteOf[e.MAC.String()]})
		}
		slices.SortFunc(ts.Learned, func(a, b LearnedMAC) int { return cmpStr(a.MAC, b.MAC) })
		out = append(out, ts)
	}
	return out, nil
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func filtering(d Desired) bool { return d.Bridge.VLANFiltering }

// problem says what is wrong with a tunnel of kind k, "" when nothing.
func (t *Tunnel) problem(k PortKind) string {
	switch {
	case t == nil:
		return "a tunnel port without its tunnel"
	case k == KindGretap && len(t.Remotes) != 1:
		return fmt.Sprintf("a gretap has one remote, got %d", len(t.Remotes))
	case k == KindVXLAN && (t.VNI < 1 || t.VNI >= 1<<24):
		return fmt.Sprintf("VNI %d outside 1..16777215", t.VNI)
	case k == KindVXLAN && (t.Port < 1 || t.Port > 65535):
		return fmt.Sprintf("UDP port %d outside 1..65535", t.Port)
	case k == KindVXLAN && len(t.Remotes) == 0 && !t.Group.IsMulticast():
		return "a VXLAN needs remotes or a multicast group"
	}
	return ""
}
