package config

import (
	"errors"
	"net/netip"

	"github.com/goccy/go-yaml/ast"
	"github.com/invopop/jsonschema"
)

// UplinkIPv6 is how the box takes its IPv6 address on the lab network:
// SLAAC from the lab's router adverts (the default), DHCPv6, none, or a
// static address. In YAML it is "slaac", "dhcp", "off" or a mapping
// {address: CIDR, gateway: IP}.
type UplinkIPv6 struct {
	// Mode is slaac, dhcp or off; empty with a static Address.
	Mode    string `yaml:"-" json:"-"`
	Address string `yaml:"address,omitempty" json:"address,omitempty"`
	Gateway string `yaml:"gateway,omitempty" json:"gateway,omitempty"`
}

// Uplink IPv6 modes.
const (
	IPv6SLAAC = "slaac"
	IPv6DHCP  = "dhcp"
	IPv6Off   = "off"
)

var ipv6Modes = []string{IPv6SLAAC, IPv6DHCP, IPv6Off}

var errIPv6Form = errors.New(`expected "slaac", "dhcp", "off" or a mapping {address: CIDR, gateway: IP}`)

// IsZero reports whether nothing was configured.
func (a UplinkIPv6) IsZero() bool { return a.Mode == "" && a.Address == "" && a.Gateway == "" }

// String is the mode, "ADDRESS" or "ADDRESS via GATEWAY".
func (a UplinkIPv6) String() string {
	switch {
	case a.Mode != "":
		return a.Mode
	case a.Gateway != "":
		return a.Address + " via " + a.Gateway
	}
	return a.Address
}

// MarshalYAML writes the union the way it is read.
func (a UplinkIPv6) MarshalYAML() (any, error) {
	if a.Mode != "" {
		return a.Mode, nil
	}
	return ipv4Static{a.Address, a.Gateway}, nil
}

// UnmarshalYAML lets the plain YAML decoder read the union too.
func (a *UplinkIPv6) UnmarshalYAML(unmarshal func(any) error) error {
	u, err := unmarshalAddrUnionYAML(unmarshal, ipv6Modes, errIPv6Form)
	if err != nil {
		return err
	}
	*a = UplinkIPv6{Mode: u.Mode, Address: u.Static.Address, Gateway: u.Static.Gateway}
	return nil
}

// MarshalJSON writes the mode, an object, or null when nothing is set.
func (a UplinkIPv6) MarshalJSON() ([]byte, error) {
	return addrUnion{Mode: a.Mode, Static: ipv4Static{a.Address, a.Gateway}}.marshalJSON()
}

// UnmarshalJSON reads what MarshalJSON writes.
func (a *UplinkIPv6) UnmarshalJSON(b []byte) error {
	u, err := unmarshalAddrUnion(b, "ipv6", ipv6Modes, errIPv6Form)
	if err != nil {
		return err
	}
	*a = UplinkIPv6{Mode: u.Mode, Address: u.Static.Address, Gateway: u.Static.Gateway}
	return nil
}

// JSONSchema describes the union.
func (UplinkIPv6) JSONSchema() *jsonschema.Schema {
	props := jsonschema.NewProperties()
	props.Set("address", &jsonschema.Schema{Type: "string", Description: "IPv6 address with prefix length such as 2001:db8::10/64"})
	props.Set("gateway", &jsonschema.Schema{Type: "string", Description: "Default router: a link-local address such as fe80::1, or one inside the address's prefix"})
	return &jsonschema.Schema{
		OneOf: []*jsonschema.Schema{
			{Type: "string", Enum: []any{IPv6SLAAC, IPv6DHCP, IPv6Off}, Description: "slaac: from the lab's router adverts; dhcp: DHCPv6 (routes from router adverts); off: no IPv6 address on the lab network"},
			{
				Type:                 "object",
				Properties:           props,
				Required:             []string{"address"},
				AdditionalProperties: jsonschema.FalseSchema,
				Description:          "Static address",
			},
		},
	}
}

// uplinkIPv6 decodes the union with positions.
func (d *decoder) uplinkIPv6(path string, p position, n ast.Node, v *UplinkIPv6) {
	u, ok := d.addrUnion(path, p, n, "ipv6", ipv6Modes, errIPv6Form,
		"an IPv6 address with prefix length such as 2001:db8::10/64 (or write ipv6: slaac or ipv6: dhcp)")
	if ok {
		*v = UplinkIPv6{Mode: u.Mode, Address: u.Static.Address, Gateway: u.Static.Gateway}
	}
}

// uplinkIPv6 checks the box's static IPv6 address on the lab network and
// its gateway, which may be the router's link-local address (what
// router adverts name) or one inside the prefix.
func (ck *checker) uplinkIPv6(nets []natNet) {
	a := ck.c.Uplink.IPv6
	if a.Mode != "" || a.Address == "" {
		return
	}
	pfx, ok := ck.ipv6Prefix("uplink.ipv6.address", a.Address, "2001:db8::10/64", "uplink.ipv4")
	if _, taken := ck.ips[pfx.Addr()]; ok && taken {
		ck.claimIP("uplink.ipv6.address", pfx.Addr())
	} else if ok {
		ck.claimIP("uplink.ipv6.address", pfx.Addr())
		for _, o := range nets {
			if o.sub.Overlaps(pfx.Masked()) {
				ck.add("uplink.ipv6.address", "prefix %s overlaps %s of %s: the box could not tell the lab network from the VLAN", pfx.Masked(), o.sub, ck.loc.ref(o.path))
			}
		}
	}
	if a.Gateway == "" {
		return
	}
	gw, err := netip.ParseAddr(a.Gateway)
	switch {
	case err != nil || !gw.Is6() || gw.Is4In6() || gw.Zone() != "":
		ck.add("uplink.ipv6.gateway", "invalid gateway %q: use an IPv6 address such as fe80::1", a.Gateway)
	case gw.IsMulticast() || gw.IsUnspecified() || gw.IsLoopback():
		ck.add("uplink.ipv6.gateway", "invalid gateway %q: not a unicast address", a.Gateway)
	case !ok || gw.IsLinkLocalUnicast():
	case !pfx.Masked().Contains(gw):
		ck.add("uplink.ipv6.gateway", "gateway %s is outside the prefix %s of the address (a router's link-local address such as fe80::1 is also fine)", gw, pfx.Masked())
	case gw == pfx.Addr():
		ck.add("uplink.ipv6.gateway", "gateway %s is the address itself", gw)
	}
}
