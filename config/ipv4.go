package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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

// UnmarshalYAML lets the plain YAML decoder read the union too; Parse has
// its own decoder, which reports positions.
func (a *IPv4) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err == nil {
		if s != ipv4DHCP {
			return errIPv4Form
		}
		*a = IPv4{DHCP: true}
		return nil
	}
	var st ipv4Static
	if err := unmarshal(&st); err != nil {
		return errIPv4Form
	}
	*a = IPv4{Address: st.Address, Gateway: st.Gateway}
	return nil
}

// MarshalJSON writes "dhcp", an object, or null when nothing is set.
func (a IPv4) MarshalJSON() ([]byte, error) {
	if a.DHCP {
		return json.Marshal(ipv4DHCP)
	}
	if a.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(ipv4Static{a.Address, a.Gateway})
}

// UnmarshalJSON reads "dhcp" or {"address": ..., "gateway": ...}.
func (a *IPv4) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*a = IPv4{}
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s != ipv4DHCP {
			return fmt.Errorf("ipv4 %q: %w", s, errIPv4Form)
		}
		*a = IPv4{DHCP: true}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var st ipv4Static
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("ipv4: %w", err)
	}
	*a = IPv4{Address: st.Address, Gateway: st.Gateway}
	return nil
}
