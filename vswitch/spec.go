package vswitch

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// Desired is the whole switch as the config wants it. Reconcile makes the
// kernel match it and removes the ports nucbox created that it no longer
// lists.
type Desired struct {
	Bridge Bridge `json:"bridge"`
	// Uplink is the uplink's port without its link name, which only the
	// network stage learns when it selects the uplink: WithUplink names it
	// and adds it to Ports. It is the one description of the uplink port;
	// netcfg's takeover attaches the same port.
	Uplink Port `json:"uplink"`
	// Ports are the bridge ports: TAPs and veths nucbox owns, and external
	// links such as the uplink whose membership and VLANs it sets but which
	// it never creates or deletes.
	Ports []Port `json:"ports,omitempty"`
	// Addresses are the box's own static addresses on VLANs, each on a
	// VLAN interface stacked on the bridge.
	Addresses []VLANAddress `json:"addresses,omitempty"`
}

// WithUplink is d with the uplink port on the link named uplink first in
// its ports. An empty name (no uplink, or one taken off the bridge by a
// rollback) leaves the uplink out.
func (d Desired) WithUplink(uplink string) Desired {
	if uplink == "" {
		return d
	}
	p := d.Uplink.Named(uplink)
	p.Kind = KindExternal
	d.Ports = append([]Port{p}, d.Ports...)
	return d
}

// Bridge describes the Linux bridge all ports join.
type Bridge struct {
	Name string `json:"name"`
	// MAC is the bridge's address; nil keeps whatever it has. The takeover
	// gives it the uplink's MAC so DHCP reservations keep matching.
	MAC net.HardwareAddr `json:"mac,omitempty"`
	// VLANFiltering turns the bridge into an 802.1Q switch. Off, the bridge
	// is one flat segment and any port VLAN is a configuration error.
	VLANFiltering bool `json:"vlan-filtering"`
	// NativeVLAN is the untagged VLAN of the bridge device itself, where
	// the box's uplink address lives (0: none).
	NativeVLAN int `json:"native-vlan,omitempty"`
}

// MarshalJSON writes the MAC as text rather than base64.
func (b Bridge) MarshalJSON() ([]byte, error) {
	type bridge Bridge
	return json.Marshal(struct {
		bridge
		MAC string `json:"mac,omitempty"`
	}{bridge(b), macText(b.MAC)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (b *Bridge) UnmarshalJSON(data []byte) error {
	type bridge Bridge
	var v struct {
		bridge
		MAC string `json:"mac,omitempty"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*b = Bridge(v.bridge)
	var err error
	b.MAC, err = parseMAC(v.MAC)
	return err
}

// PortKind says who creates a port's link.
type PortKind string

const (
	// KindTAP is a persistent TAP for a QEMU guest, created by nucbox.
	KindTAP PortKind = "tap"
	// KindVeth is a veth pair for a container, created by nucbox; the host
	// end joins the bridge, the peer is moved into the container later.
	KindVeth PortKind = "veth"
	// KindExternal is a link nucbox did not create (the uplink): it is
	// enslaved and given VLANs, never created, renamed or deleted.
	KindExternal PortKind = "external"
)

// Port is one bridge port and its VLAN membership: an access port has VLAN
// set; a trunk port has Trunk (tagged) and optionally Native (untagged).
type Port struct {
	Name string   `json:"name,omitempty"`
	Kind PortKind `json:"kind"`
	// Label names the port's owner (such as "vm/web/0"); it is stored in
	// the link's alias, which is how nucbox recognises its own links.
	Label string `json:"label"`
	// MAC is the guest side's address: the address QEMU gives the guest
	// NIC, or the veth peer's. The host end gets the same address with
	// 0xfe as first octet (0xfa if the guest's already starts with 0xfe),
	// because a bridge port sharing the guest's MAC would make the bridge
	// deliver the guest's traffic to the box itself.
	MAC net.HardwareAddr `json:"mac,omitempty"`
	// Peer is the name of a veth's container end while it is still in the
	// box's namespace.
	Peer   string `json:"peer,omitempty"`
	VLAN   int    `json:"vlan,omitempty"`
	Trunk  []int  `json:"trunk,omitempty"`
	Native int    `json:"native,omitempty"`
	// MTU is the port's MTU (0: the kernel's default): lowered on the
	// ports of a VLAN carried over a tunnel.
	MTU int `json:"mtu,omitempty"`
	// Tunnel is the far side of a tunnel port (KindVXLAN, KindGretap).
	Tunnel *Tunnel `json:"tunnel,omitempty"`
	// Owner and Group may open the TAP (QEMU running unprivileged).
	Owner uint32 `json:"owner,omitempty"`
	Group uint32 `json:"group,omitempty"`
}

// Named is p on the link name.
func (p Port) Named(name string) Port {
	p.Name = name
	return p
}

// MarshalJSON writes the MAC as text rather than base64.
func (p Port) MarshalJSON() ([]byte, error) {
	type port Port
	return json.Marshal(struct {
		port
		MAC string `json:"mac,omitempty"`
	}{port(p), macText(p.MAC)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *Port) UnmarshalJSON(data []byte) error {
	type port Port
	var v struct {
		port
		MAC string `json:"mac,omitempty"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*p = Port(v.port)
	var err error
	p.MAC, err = parseMAC(v.MAC)
	return err
}

func parseMAC(s string) (net.HardwareAddr, error) {
	if s == "" {
		return nil, nil
	}
	return net.ParseMAC(s)
}

func macText(m net.HardwareAddr) string {
	if len(m) == 0 {
		return ""
	}
	return m.String()
}

// VLANAddress is a static box address on a VLAN interface on the bridge.
type VLANAddress struct {
	VLAN int `json:"vlan"`
	// Link is the VLAN interface's name; every address on one VLAN names
	// the same link.
	Link   string       `json:"link"`
	Prefix netip.Prefix `json:"prefix"`
}

// VLAN is one VLAN membership entry of a port or of the bridge itself.
type VLAN struct {
	ID       int
	PVID     bool // untagged frames arriving on the port land in this VLAN
	Untagged bool // frames leave the port without a tag
}

func (v VLAN) String() string {
	s := fmt.Sprint(v.ID)
	if v.PVID {
		s += " pvid"
	}
	if v.Untagged {
		s += " untagged"
	}
	return s
}

// VLANs is the membership a port's spec asks for, sorted by ID.
func (p Port) VLANs() []VLAN {
	var vs []VLAN
	if p.VLAN != 0 {
		return []VLAN{{ID: p.VLAN, PVID: true, Untagged: true}}
	}
	for _, id := range p.Trunk {
		if id != p.Native {
			vs = append(vs, VLAN{ID: id})
		}
	}
	if p.Native != 0 {
		vs = append(vs, VLAN{ID: p.Native, PVID: true, Untagged: true})
	}
	return sortVLANs(vs)
}

// HostMAC is the MAC of the host end of a TAP or veth port.
func (p Port) HostMAC() net.HardwareAddr {
	if len(p.MAC) != 6 {
		return nil
	}
	m := slices.Clone(p.MAC)
	m[0] = 0xfe
	if p.MAC[0] == 0xfe {
		m[0] = 0xfa
	}
	return m
}

// selfVLANs is what the bridge device itself must carry: the native VLAN
// untagged for the box's uplink address, each box address VLAN tagged (the
// VLAN interface on the bridge sends and receives tagged frames).
func (d Desired) selfVLANs() []VLAN {
	var vs []VLAN
	for _, a := range d.Addresses {
		if a.VLAN != d.Bridge.NativeVLAN && !slices.ContainsFunc(vs, func(v VLAN) bool { return v.ID == a.VLAN }) {
			vs = append(vs, VLAN{ID: a.VLAN})
		}
	}
	if d.Bridge.NativeVLAN != 0 {
		vs = append(vs, VLAN{ID: d.Bridge.NativeVLAN, PVID: true, Untagged: true})
	}
	return sortVLANs(vs)
}

func sortVLANs(vs []VLAN) []VLAN {
	slices.SortFunc(vs, func(a, b VLAN) int { return a.ID - b.ID })
	return vs
}

// Validate reports every problem with d at once.
func (d Desired) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if d.Bridge.Name == "" {
		add("bridge: no name")
	} else if len(d.Bridge.Name) > 15 {
		add("bridge %q: name longer than 15 bytes", d.Bridge.Name)
	}
	validID := func(id int) bool { return id >= 1 && id <= 4094 }
	if d.Bridge.NativeVLAN != 0 && !validID(d.Bridge.NativeVLAN) {
		add("bridge %s: native VLAN %d outside 1..4094", d.Bridge.Name, d.Bridge.NativeVLAN)
	}
	if !d.Bridge.VLANFiltering && len(d.Addresses) > 0 {
		add("bridge %s: box addresses on VLANs need VLAN filtering", d.Bridge.Name)
	}
	seen := map[string]bool{d.Bridge.Name: true}
	for _, p := range d.Ports {
		switch {
		case p.Name == "":
			add("port of %q: no name", p.Label)
			continue
		case len(p.Name) > 15:
			add("port %s: name longer than 15 bytes", p.Name)
		case seen[p.Name]:
			add("port %s: name used twice", p.Name)
		}
		seen[p.Name] = true
		switch p.Kind {
		case KindTAP, KindExternal:
		case KindVXLAN, KindGretap:
			if msg := p.Tunnel.problem(p.Kind); msg != "" {
				add("port %s: %s", p.Name, msg)
			}
			if p.VLAN == 0 && filtering(d) {
				add("port %s: a tunnel port needs its access VLAN", p.Name)
			}
		case KindVeth:
			if p.Peer == "" || len(p.Peer) > 15 {
				add("port %s: veth peer name %q invalid", p.Name, p.Peer)
			} else if seen[p.Peer] {
				add("port %s: peer name %s used twice", p.Name, p.Peer)
			}
			seen[p.Peer] = true
		default:
			add("port %s: unknown kind %q", p.Name, p.Kind)
		}
		if p.MAC != nil && (len(p.MAC) != 6 || p.MAC[0]&1 != 0) {
			add("port %s: MAC %s is not a unicast Ethernet address", p.Name, p.MAC)
		}
		if p.VLAN != 0 && (len(p.Trunk) > 0 || p.Native != 0) {
			add("port %s: both access VLAN and trunk given", p.Name)
		}
		ids := append(slices.Clone(p.Trunk), p.VLAN, p.Native)
		for _, id := range ids {
			if id != 0 && !validID(id) {
				add("port %s: VLAN %d outside 1..4094", p.Name, id)
			}
		}
		if !d.Bridge.VLANFiltering && len(p.VLANs()) > 0 {
			add("port %s: VLANs %v need VLAN filtering on bridge %s", p.Name, p.VLANs(), d.Bridge.Name)
		}
	}
	links := map[int]string{}
	for _, a := range d.Addresses {
		if !validID(a.VLAN) {
			add("address %s: VLAN %d outside 1..4094", a.Prefix, a.VLAN)
		}
		if !a.Prefix.IsValid() || a.Prefix.Addr().Is4In6() || a.Prefix.Addr().IsLinkLocalUnicast() {
			add("address on VLAN %d: %q is not an IPv4 or IPv6 (not link-local) prefix", a.VLAN, a.Prefix)
		}
		switch l, ok := links[a.VLAN]; {
		case a.Link == "" || len(a.Link) > 15:
			add("address on VLAN %d: VLAN interface name %q invalid", a.VLAN, a.Link)
		case ok && l != a.Link:
			add("VLAN %d: addresses on two interfaces, %s and %s", a.VLAN, l, a.Link)
		case !ok && seen[a.Link]:
			add("VLAN %d: interface name %s used twice", a.VLAN, a.Link)
		}
		links[a.VLAN] = a.Link
		seen[a.Link] = true
	}
	return errors.Join(errs...)
}
