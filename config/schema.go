package config

import (
	"encoding/json"

	"github.com/invopop/jsonschema"
)

// Schema returns the JSON Schema (draft 2020-12) of the config file,
// generated from the Go types so that it cannot drift from them. Field
// names are the YAML names. It describes the file as written, before
// defaults: editors can use it to complete and check configs, and a YAML
// file converted to JSON validates against it.
//
// The schema covers shape and syntax; checks that relate fields (unique
// names, duplicate MACs and IPs, gateway inside the subnet) are Parse's.
func Schema() ([]byte, error) {
	r := &jsonschema.Reflector{
		FieldNameTag:               "yaml",
		RequiredFromJSONSchemaTags: true,
		ExpandedStruct:             true,
		Anonymous:                  true,
	}
	s := r.Reflect(&Config{})
	s.Title = "nucbox config"
	s.Description = "One box: its uplink and bridge, VLANs, VMs and containers."
	return json.MarshalIndent(s, "", "  ")
}

var vlanItem = &jsonschema.Schema{Type: "integer", Minimum: "1", Maximum: "4094"}

// macPattern is the six-byte subset of what net.ParseMAC accepts.
const macPattern = `^([0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})$`

// JSONSchema describes a size as a byte count or a string with a binary
// unit. Zero is excluded: every size field treats it as "not set".
func (Size) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{
		OneOf: []*jsonschema.Schema{
			{Type: "integer", Minimum: "1"},
			{Type: "string", AllOf: []*jsonschema.Schema{{Pattern: sizePattern}, {Pattern: "[1-9]"}}},
		},
		Examples: []any{"512MiB", "2GiB", "20GiB"},
	}
}

// JSONSchema describes a duration as Go duration text; zero is excluded
// as for Size.
func (Duration) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{
		Type:     "string",
		AllOf:    []*jsonschema.Schema{{Pattern: durationPattern}, {Pattern: "[1-9]"}},
		Examples: []any{"10s", "1m30s", "500ms"},
	}
}

// JSONSchema describes the union: the string "dhcp" or a static address.
func (IPv4) JSONSchema() *jsonschema.Schema {
	props := jsonschema.NewProperties()
	props.Set("address", &jsonschema.Schema{Type: "string", Description: "Address with prefix length such as 192.168.1.10/24"})
	props.Set("gateway", &jsonschema.Schema{Type: "string", Description: "Default gateway; must lie inside the address's subnet"})
	return &jsonschema.Schema{
		OneOf: []*jsonschema.Schema{
			{Type: "string", Const: ipv4DHCP, Description: "Address by DHCP"},
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

// JSONSchemaExtend constrains the VLAN lists' items, which struct tags
// cannot reach.
func (Uplink) JSONSchemaExtend(s *jsonschema.Schema) {
	if p, ok := s.Properties.Get("vlans"); ok {
		p.Items = vlanItem
		p.UniqueItems = true
	}
	if p, ok := s.Properties.Get("mac"); ok {
		p.Pattern = macPattern
	}
	if p, ok := s.Properties.Get("dns"); ok {
		p.Items = &jsonschema.Schema{Type: "string", Description: "IP address"}
	}
}

// JSONSchemaExtend constrains the trunk's items and says that a NIC is an
// access port or a trunk, not both.
func (NIC) JSONSchemaExtend(s *jsonschema.Schema) {
	if p, ok := s.Properties.Get("trunk"); ok {
		p.Items = vlanItem
		p.UniqueItems = true
	}
	if p, ok := s.Properties.Get("mac"); ok {
		p.Pattern = macPattern
	}
	s.Not = &jsonschema.Schema{Required: []string{"vlan", "trunk"}}
	s.DependentRequired = map[string][]string{"native": {"trunk"}}
}
