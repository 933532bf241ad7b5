package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// FuzzParse feeds arbitrary bytes to the loader. No input may panic; every
// rejection must be a well-formed ErrorList; every accepted config must
// validate again, load unchanged after being written back, and match the
// JSON Schema. The corpus in testdata/fuzz/FuzzParse runs with every
// `go test`.
func FuzzParse(f *testing.F) {
	for _, file := range configFiles(f) {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	sch := compiledSchema(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseWithDeadline(t, data)
		if err != nil {
			checkErrorList(t, err)
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate rejects: %v", err)
		}
		// Written back as JSON, which is YAML too, it loads the same. JSON
		// rather than the YAML library's encoder, which leaves some strings
		// (a lone tab) unquoted so that they do not read back.
		j, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("json: %v", err)
		}
		back, err := Parse("again.yaml", j)
		if err != nil {
			t.Fatalf("written back, the config does not load: %v\n%s", err, j)
		}
		if !equalConfig(c, back) {
			t.Fatalf("written back, the config loads differently:\n%s", j)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(v); err != nil {
			t.Fatalf("accepted config fails the schema: %v\n%s", err, j)
		}
	})
}

// parseWithDeadline fails on inputs that make Parse hang: at boot a hang
// is as bad as a panic, and no recover catches it.
func parseWithDeadline(t *testing.T, data []byte) (*Config, error) {
	t.Helper()
	type result struct {
		c   *Config
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := Parse("fuzz.yaml", data)
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		return r.c, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("Parse did not return within 10s")
		return nil, nil
	}
}

func checkErrorList(t *testing.T, err error) {
	t.Helper()
	var list ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error %T is not a non-empty ErrorList: %v", err, err)
	}
	if len(list) > maxErrors+1 {
		t.Fatalf("%d errors", len(list))
	}
	for i, e := range list {
		// Parse turns panics into errors so that PID 1 survives them; the
		// fuzzer must still see them.
		if strings.Contains(e.Message, "internal error") {
			t.Fatalf("panic: %s", e.Message)
		}
		if e.Message == "" || strings.ContainsAny(e.Error(), "\n\r") {
			t.Fatalf("malformed error %q", e.Error())
		}
		if e.File != "fuzz.yaml" {
			t.Fatalf("error without the file name: %q", e.Error())
		}
		if e.Line < 1 && !(i == len(list)-1 && strings.HasPrefix(e.Message, "and ")) {
			t.Fatalf("error without a position: %q", e.Error())
		}
	}
}
