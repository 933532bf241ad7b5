package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// The uplink's ipv4 and ipv6 are each a union of a mode word ("dhcp";
// "slaac", "dhcp", "off") and a mapping {address, gateway}. These read
// and write both the same way; Parse has its own decoder, which reports
// positions.

// addrUnion is one such value: Mode, or the static form, or nothing.
type addrUnion struct {
	Mode   string
	Static ipv4Static
}

func (u addrUnion) marshalJSON() ([]byte, error) {
	if u.Mode != "" {
		return json.Marshal(u.Mode)
	}
	if u.Static == (ipv4Static{}) {
		return []byte("null"), nil
	}
	return json.Marshal(u.Static)
}

// unmarshalAddrUnion reads JSON null, one of modes, or the mapping with no
// other field; field names the value in errors.
func unmarshalAddrUnion(b []byte, field string, modes []string, form error) (addrUnion, error) {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return addrUnion{}, nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return addrUnion{}, err
		}
		if !slices.Contains(modes, s) {
			return addrUnion{}, fmt.Errorf("%s %q: %w", field, s, form)
		}
		return addrUnion{Mode: s}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var st ipv4Static
	if err := dec.Decode(&st); err != nil {
		return addrUnion{}, fmt.Errorf("%s: %w", field, err)
	}
	return addrUnion{Static: st}, nil
}

// unmarshalAddrUnionYAML is the same for the plain YAML decoder.
func unmarshalAddrUnionYAML(unmarshal func(any) error, modes []string, form error) (addrUnion, error) {
	var s string
	if err := unmarshal(&s); err == nil {
		if !slices.Contains(modes, s) {
			return addrUnion{}, form
		}
		return addrUnion{Mode: s}, nil
	}
	var st ipv4Static
	if err := unmarshal(&st); err != nil {
		return addrUnion{}, form
	}
	return addrUnion{Static: st}, nil
}
