package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

func compiledSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		var b []byte
		if b, schemaErr = Schema(); schemaErr != nil {
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		if schemaErr = c.AddResource("config.schema.json", doc); schemaErr != nil {
			return
		}
		schema, schemaErr = c.Compile("config.schema.json")
	})
	if schemaErr != nil {
		t.Fatalf("schema: %v", schemaErr)
	}
	return schema
}

// yamlToJSONValue converts a YAML document to the value a JSON parser would
// give for it, resolving anchors and merge keys like the loader does.
func yamlToJSONValue(src []byte) (any, error) {
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		return nil, err
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(j))
}

func validateAgainstSchema(t testing.TB, src []byte) error {
	t.Helper()
	v, err := yamlToJSONValue(src)
	if err != nil {
		return err
	}
	return compiledSchema(t).Validate(v)
}

func TestSchemaAcceptsValidConfigs(t *testing.T) {
	for _, f := range configFiles(t) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := validateAgainstSchema(t, src); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		// The loaded config, defaults included, is a valid config too:
		// what `plan` and the API show can be saved and loaded again.
		c, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal(c)
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err != nil {
			t.Fatal(err)
		}
		if err := compiledSchema(t).Validate(v); err != nil {
			t.Errorf("%s with defaults: %v", f, err)
		}
	}
}

// Invalid configs marked "# schema: reject" are rejected by the schema as
// well as by the loader; "# schema: accept" ones break rules only the
// loader knows (duplicates across fields).
func TestSchemaRejectsInvalidConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(f, src); err == nil {
			t.Errorf("%s: loader accepts it", f)
		}
		reject := strings.Contains(string(src), "\n# schema: reject")
		if !reject && !strings.Contains(string(src), "\n# schema: accept") {
			t.Errorf("%s: no # schema: line", f)
			continue
		}
		err = validateAgainstSchema(t, src)
		if reject && err == nil {
			t.Errorf("%s: schema accepts it", f)
		}
		if !reject && err != nil && !strings.Contains(f, "two-documents") {
			t.Errorf("%s: schema rejects it: %v", f, err)
		}
	}
}

// Single-field mistakes are caught by both the schema and the loader.
func TestSchemaAndLoaderAgree(t *testing.T) {
	for _, src := range []string{
		"hostname: b\nvms: [{name: a, memory: 2GB}]\n",
		"hostname: b\nvms: [{name: a, memory: 0}]\n",
		"hostname: b\nvms: [{name: a, shutdown-timeout: 10}]\n",
		"hostname: b\nvms: [{name: a, shutdown-timeout: 0s}]\n",
		"hostname: b\nvms: [{name: A}]\n",
		"hostname: b\nvms: [{name: a, vnc: 100}]\n",
		"hostname: b\nvms: [{name: a, nics: [{vlan: 10, trunk: [20]}]}]\n",
		"hostname: b\nvms: [{name: a, nics: [{native: 10}]}]\n",
		"hostname: b\nvms: [{name: a, nics: [{trunk: [0]}]}]\n",
		"hostname: b\nuplink: {vlans: [4095]}\n",
		"hostname: b\nuplink: {mac: '52:54:00:12:34'}\n",
		"hostname: b\nvms: [{name: a, nics: [{mac: '52:54:00:12:34:5g'}]}]\n",
		"hostname: b\nuplink: {ipv4: static}\n",
		"hostname: b\nuplink: {ipv4: {gateway: 10.0.0.1}}\n",
		"hostname: b\nuplink: {bridge: a-very-long-bridge}\n",
		"hostname: b\ncontainers: [{name: c}]\n",
		"hostname: b\ncontainers: [{name: c, image: x, restart: sometimes}]\n",
		"hostname: b\ncontainers: [{name: c, image: x, env: {A: 1}}]\n",
		"hostname: b\ncontainers: [{name: c, image: x, volumes: [{source: a, target: b}]}]\n",
		"hostname: b\napi: {token: short}\n",
		"hostname: b\ncolour: blue\n",
		"uplink: {}\n",
	} {
		if _, err := Parse("box.yaml", []byte(src)); err == nil {
			t.Errorf("loader accepts %q", src)
		}
		if err := validateAgainstSchema(t, []byte(src)); err == nil {
			t.Errorf("schema accepts %q", src)
		}
	}
}

func TestSchemaShape(t *testing.T) {
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`"$schema": "https://json-schema.org/draft/2020-12/schema"`,
		`"native-vlan"`, `"carrier-timeout"`, `"cloud-init"`, `"public-status"`,
		`"const": "dhcp"`, `"pattern": "^[0-9]+(B|KiB|MiB|GiB|TiB)?$"`,
		`"additionalProperties": false`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("schema lacks %s", want)
		}
	}
	for _, unwanted := range []string{`"Hostname"`, `"NativeVLAN"`, `"DHCP"`, `"defaulted"`} {
		if strings.Contains(s, unwanted) {
			t.Errorf("schema has Go name %s", unwanted)
		}
	}
}
