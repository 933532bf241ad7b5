package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// The uplink's ipv4 and ipv6 are each a union of a mode word ("dhcp";
// "slaac", "dhcp", "off") and a mapping {address, gateway}. These read
// and write both the same way, and Parse's decoder reads both with
// positions (decoder.addrUnion).

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

// addrUnion decodes field's union with positions: one of modes as a
// word, or the static form, whose address is required (described by
// required). ok is false when it reported an error.
func (d *decoder) addrUnion(path string, p position, n ast.Node, field string, modes []string, form error, required string) (u addrUnion, ok bool) {
	if s, isStr := stringValue(n); isStr {
		if slices.Contains(modes, s) {
			return addrUnion{Mode: s}, true
		}
		hint := ""
		if strings.Contains(s, "/") {
			hint = fmt.Sprintf("; for a static address write {address: %s}", s)
		}
		d.errorAt(p, path, "invalid %s %q: %v%s", field, s, form, hint)
		return u, false
	}
	es, isMap := d.entries(path, n, 0)
	if !isMap {
		d.errorAt(p, path, "invalid %s: %v, got %s", field, form, describe(n))
		return u, false
	}
	for _, e := range es {
		if slices.Contains(modes, e.key) {
			d.errorAt(e.pos, joinKey(path, e.key), "%s and a static address exclude each other: write %s: %s or %s: {address: CIDR, gateway: IP}", e.key, field, e.key, field)
			return u, false
		}
	}
	d.structFields(path, es, reflect.ValueOf(&u.Static).Elem())
	// An empty mapping would otherwise read as "not set" and, on the
	// uplink, quietly become DHCP.
	if u.Static.Address == "" && !d.failed[path+".address"] {
		d.errorAt(p, path+".address", "required: %s", required)
	}
	return u, true
}
