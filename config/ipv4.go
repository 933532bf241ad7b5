package config

import (
	"errors"
)

// ipv4Static is IPv4's mapping form without IPv4's methods, so that
// marshalling it does not recurse.
type ipv4Static struct {
	Address string `yaml:"address,omitempty" json:"address,omitempty"`
	Gateway string `yaml:"gateway,omitempty" json:"gateway,omitempty"`
}

const ipv4DHCP = "dhcp"

var errIPv4Form = errors.New(`expected "dhcp" or a mapping {address: CIDR, gateway: IP}`)

// String is "dhcp", "ADDRESS" or "ADDRESS via GATEWAY".
func (a IPv4) String() string {
	switch {
	case a.DHCP:
		return ipv4DHCP
	case a.Gateway != "":
		return a.Address + " via " + a.Gateway
	default:
		return a.Address
	}
}

// MarshalYAML writes the union the way it is read: "dhcp" or a mapping.
func (a IPv4) MarshalYAML() (any, error) {
	if a.DHCP {
		return ipv4DHCP, nil
	}
	return ipv4Static{a.Address, a.Gateway}, nil
}

// UnmarshalYAML lets the plain YAML decoder read the union too.
func (a *IPv4) UnmarshalYAML(unmarshal func(any) error) error {
	u, err := unmarshalAddrUnionYAML(unmarshal, []string{ipv4DHCP}, errIPv4Form)
	if err != nil {
		return err
	}
	*a = ipv4Of(u)
	return nil
}

// MarshalJSON writes "dhcp", an object, or null when nothing is set.
func (a IPv4) MarshalJSON() ([]byte, error) {
	u := addrUnion{Static: ipv4Static{a.Address, a.Gateway}}
	if a.DHCP {
		u = addrUnion{Mode: ipv4DHCP}
	}
	return u.marshalJSON()
}

// UnmarshalJSON reads "dhcp" or {"address": ..., "gateway": ...}.
func (a *IPv4) UnmarshalJSON(b []byte) error {
	u, err := unmarshalAddrUnion(b, "ipv4", []string{ipv4DHCP}, errIPv4Form)
	if err != nil {
		return err
	}
	*a = ipv4Of(u)
	return nil
}

func ipv4Of(u addrUnion) IPv4 {
	if u.Mode == ipv4DHCP {
		return IPv4{DHCP: true}
	}
	return IPv4{Address: u.Static.Address, Gateway: u.Static.Gateway}
}
