package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/invopop/jsonschema"
)

// Overlay carries one bridge VLAN to other boxes over a layer-2 tunnel,
// for labs whose switch cannot carry the VLAN itself. Exactly one of
// VXLAN and GRETap is given.
type Overlay struct {
	VLAN   int     `yaml:"vlan" json:"vlan" jsonschema:"required,minimum=1,maximum=4094" jsonschema_description:"Bridge VLAN carried by the tunnel (not one the uplink carries)"`
	VXLAN  *VXLAN  `yaml:"vxlan,omitempty" json:"vxlan,omitempty" jsonschema_description:"A VXLAN tunnel: unicast to a list of remote boxes, or a multicast group"`
	GRETap *GRETap `yaml:"gretap,omitempty" json:"gretap,omitempty" jsonschema_description:"A point-to-point GRE tunnel carrying Ethernet to one remote box"`
	// MTU is the tunnel port's MTU, and so the largest frame the VLAN's
	// workloads can send through it. By default the underlay is taken to
	// be 1500 bytes and the tunnel's overhead comes off it: 1450 for
	// VXLAN, 1462 for gretap. With a jumbo underlay, set 1500.
	MTU int `yaml:"mtu,omitempty" json:"mtu,omitempty" jsonschema:"minimum=576,maximum=9000" jsonschema_description:"MTU of the VLAN's workloads over the tunnel (default 1500 less the tunnel's overhead: 1450 VXLAN, 1462 gretap; 1500 needs an underlay with jumbo frames)"`
}

// VXLAN is a VXLAN tunnel endpoint. With Remotes, broadcast and unknown
// frames are copied to each remote box (head-end replication); with Group
// they go to a multicast group.
type VXLAN struct {
	VNI     int      `yaml:"vni" json:"vni" jsonschema:"required,minimum=1,maximum=16777215" jsonschema_description:"VXLAN network identifier, the same on every box of the overlay"`
	Remotes []string `yaml:"remotes,omitempty" json:"remotes,omitempty" jsonschema_description:"Uplink addresses of the other boxes (unicast, head-end replication)"`
	Group   string   `yaml:"group,omitempty" json:"group,omitempty" jsonschema_description:"IPv4 multicast group instead of remotes, such as 239.1.1.10"`
	Port    int      `yaml:"port,omitempty" json:"port,omitempty" jsonschema:"minimum=1,maximum=65535" jsonschema_description:"UDP port (default 4789)"`
}

// GRETap is a point-to-point Ethernet-over-GRE tunnel.
type GRETap struct {
	Remote string `yaml:"remote" json:"remote" jsonschema:"required" jsonschema_description:"Uplink address of the other box"`
}

// Overlay defaults and overheads (outer IPv4 headers).
const (
	DefaultVXLANPort = 4789
	VXLANOverhead    = 50 // IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14
	GRETapOverhead   = 38 // IPv4 20 + GRE 4 + inner Ethernet 14
	underlayMTU      = 1500
)

// Bond modes an uplink bond may use.
const (
	BondActiveBackup = "active-backup"
	BondLACP         = "802.3ad"
	BondBalanceXOR   = "balance-xor"
	DefaultBondName  = "bond0"
)

// Interface is the uplink port: a link name (or auto), or a bond of
// several NICs. In YAML it is a string or a mapping {bond: [eno1, eno2],
// mode: active-backup}.
type Interface struct {
	Name string `yaml:"-" json:"-"`
	Bond *Bond  `yaml:"-" json:"-"`
}

// Bond is an uplink made of several NICs.
type Bond struct {
	Members []string `yaml:"bond" json:"bond"`
	Mode    string   `yaml:"mode,omitempty" json:"mode,omitempty"`
	// Name is the bond link's name (default bond0).
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
}

var errInterfaceForm = errors.New(`expected a link name, "auto", or a mapping {bond: [eno1, eno2], mode: active-backup}`)

// IsZero reports whether nothing was configured.
func (i Interface) IsZero() bool { return i.Name == "" && i.Bond == nil }

// String is the link name, or "bond0 (eno1+eno2 active-backup)".
func (i Interface) String() string {
	if i.Bond != nil {
		return fmt.Sprintf("%s (%s %s)", i.Bond.Name, strings.Join(i.Bond.Members, "+"), i.Bond.Mode)
	}
	return i.Name
}

// MarshalYAML writes the union the way it is read.
func (i Interface) MarshalYAML() (any, error) {
	if i.Bond != nil {
		return *i.Bond, nil
	}
	return i.Name, nil
}

// UnmarshalYAML lets the plain YAML decoder read the union too.
func (i *Interface) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err == nil {
		*i = Interface{Name: s}
		return nil
	}
	var b Bond
	if err := unmarshal(&b); err != nil {
		return errInterfaceForm
	}
	*i = Interface{Bond: &b}
	return nil
}

// MarshalJSON writes a string, an object, or null.
func (i Interface) MarshalJSON() ([]byte, error) {
	switch {
	case i.Bond != nil:
		return json.Marshal(*i.Bond)
	case i.Name == "":
		return []byte("null"), nil
	}
	return json.Marshal(i.Name)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (i *Interface) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*i = Interface{}
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &i.Name)
	}
	var bd Bond
	if err := json.Unmarshal(b, &bd); err != nil {
		return err
	}
	i.Bond = &bd
	return nil
}

// JSONSchema describes the union.
func (Interface) JSONSchema() *jsonschema.Schema {
	props := jsonschema.NewProperties()
	props.Set("bond", &jsonschema.Schema{Type: "array", MinItems: ptr(uint64(2)), Items: &jsonschema.Schema{Type: "string"}, Description: "NICs bonded into the uplink"})
	props.Set("mode", &jsonschema.Schema{Type: "string", Enum: []any{BondActiveBackup, BondLACP, BondBalanceXOR}, Description: "Bonding mode (default active-backup)"})
	props.Set("name", &jsonschema.Schema{Type: "string", Pattern: `^[^/:\s]{1,15}$`, Description: "Name of the bond link (default bond0)"})
	return &jsonschema.Schema{
		OneOf: []*jsonschema.Schema{
			{Type: "string", Description: "auto or a link name such as eno1 (default auto unless mac is given)"},
			{Type: "object", Properties: props, Required: []string{"bond"}, AdditionalProperties: jsonschema.FalseSchema, Description: "A bond of several NICs"},
		},
	}
}

func ptr[T any](v T) *T { return &v }

// TunnelMTU is the overlay's MTU: the given one or the underlay's less
// the tunnel's overhead.
func (o Overlay) TunnelMTU() int {
	switch {
	case o.MTU != 0:
		return o.MTU
	case o.GRETap != nil:
		return underlayMTU - GRETapOverhead
	}
	return underlayMTU - VXLANOverhead
}

// overlays checks the overlays: one tunnel each, valid addresses, a VNI
// and a VLAN used once, no VLAN the uplink already carries.
func (ck *checker) overlays() {
	u := &ck.c.Uplink
	vlans := map[int]string{}
	vnis := map[int]string{}
	for i := range ck.c.Overlays {
		o := &ck.c.Overlays[i]
		p := fmt.Sprintf("overlays[%d]", i)
		if ck.vlanID(p+".vlan", o.VLAN) {
			switch {
			case vlans[o.VLAN] != "":
				ck.add(p+".vlan", "VLAN %d already has an overlay at %s", o.VLAN, ck.loc.ref(vlans[o.VLAN]))
			case o.VLAN == u.NativeVLAN:
				ck.add(p+".vlan", "VLAN %d is the uplink's native VLAN: the lab network carries it already, and a tunnel would loop it", o.VLAN)
			case containsInt(u.VLANs, o.VLAN):
				ck.add(p+".vlan", "VLAN %d is also on the uplink trunk (uplink.vlans): carry it either on the switch or over the tunnel, not both (a loop)", o.VLAN)
			default:
				vlans[o.VLAN] = p + ".vlan"
			}
		}
		switch {
		case o.VXLAN == nil && o.GRETap == nil:
			ck.add(p, "give the tunnel: vxlan: {vni: N, remotes: [...]} or gretap: {remote: IP}")
		case o.VXLAN != nil && o.GRETap != nil:
			ck.add(p+".gretap", "give either vxlan or gretap, not both")
		}
		if x := o.VXLAN; x != nil {
			vp := p + ".vxlan"
			switch {
			case x.VNI < 1 || x.VNI > 1<<24-1:
				ck.add(vp+".vni", "VNI %d outside 1..16777215", x.VNI)
			case vnis[x.VNI] != "":
				ck.add(vp+".vni", "VNI %d is already used at %s", x.VNI, ck.loc.ref(vnis[x.VNI]))
			default:
				vnis[x.VNI] = vp + ".vni"
			}
			switch {
			case len(x.Remotes) == 0 && x.Group == "":
				ck.add(vp, "give remotes (the other boxes' uplink addresses) or a multicast group")
			case len(x.Remotes) > 0 && x.Group != "":
				ck.add(vp+".group", "give either remotes or group, not both")
			}
			seen := map[netip.Addr]string{}
			for j, r := range x.Remotes {
				rp := fmt.Sprintf("%s.remotes[%d]", vp, j)
				a, ok := ck.unicast(rp, r)
				if !ok {
					continue
				}
				if prev := seen[a]; prev != "" {
					ck.add(rp, "remote %s is already listed at %s", a, ck.loc.ref(prev))
				}
				seen[a] = rp
			}
			if x.Group != "" {
				if a, err := netip.ParseAddr(x.Group); err != nil || !a.Is4() || !a.IsMulticast() {
					ck.add(vp+".group", "invalid multicast group %q: use an IPv4 address in 224.0.0.0/4 such as 239.1.1.10", x.Group)
				}
			}
			if x.Port < 0 || x.Port > 65535 {
				ck.add(vp+".port", "UDP port %d outside 1..65535", x.Port)
			}
		}
		if g := o.GRETap; g != nil {
			ck.unicast(p+".gretap.remote", g.Remote)
		}
		if o.MTU != 0 && (o.MTU < 576 || o.MTU > 9000) {
			ck.add(p+".mtu", "MTU %d outside 576..9000", o.MTU)
		}
	}
}

// unicast checks a tunnel's remote address.
func (ck *checker) unicast(p, s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() || a.IsMulticast() || a.IsUnspecified() || a.IsLoopback() {
		ck.add(p, "invalid remote %q: use the other box's IPv4 uplink address", s)
		return a, false
	}
	return a, true
}

// bond checks an uplink bond: two or more distinct NICs named nowhere
// else, a known mode, a valid link name.
func (ck *checker) bond(b *Bond) {
	u := &ck.c.Uplink
	p := "uplink.interface"
	if len(b.Members) < 2 {
		ck.add(p+".bond", "a bond needs at least two NICs, got %d", len(b.Members))
	}
	if u.MAC != "" {
		ck.add("uplink.mac", "give either uplink.interface or uplink.mac, not both")
	}
	switch b.Mode {
	case BondActiveBackup, BondLACP, BondBalanceXOR:
	default:
		ck.add(p+".mode", "unknown bond mode %q: use active-backup, 802.3ad or balance-xor", b.Mode)
	}
	if msg := linkNameProblem(b.Name); msg != "" {
		ck.add(p+".name", "invalid bond name %q: %s", b.Name, msg)
	} else if b.Name == u.Bridge {
		ck.add(p+".name", "the bond cannot be named like the bridge %q", u.Bridge)
	} else {
		ck.links[b.Name] = p + ".name"
	}
	for i, m := range b.Members {
		mp := fmt.Sprintf("%s.bond[%d]", p, i)
		switch msg := linkNameProblem(m); {
		case msg != "":
			ck.add(mp, "invalid link name %q: %s", m, msg)
		case m == u.Bridge || m == b.Name:
			ck.add(mp, "bond member %q is also the bridge or the bond itself", m)
		case ck.links[m] != "":
			ck.add(mp, "bond member %q is already named at %s", m, ck.loc.ref(ck.links[m]))
		default:
			ck.links[m] = mp
		}
	}
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
