package config

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"
)

// TestReferenceCoversSchema keeps docs/config.md in step with the types:
// every field the schema knows must appear there, backquoted, so a new
// field cannot ship undocumented.
func TestReferenceCoversSchema(t *testing.T) {
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Defs map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	var missing []string
	fields := 0
	for def, d := range s.Defs {
		for name := range d.Properties {
			fields++
			if !strings.Contains(string(doc), "`"+name+"`") {
				missing = append(missing, def+"."+name)
			}
		}
	}
	if fields < 40 {
		t.Fatalf("the schema lists only %d fields: the test is not reading it right", fields)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("docs/config.md does not mention these schema fields: %s", strings.Join(missing, ", "))
	}
}
