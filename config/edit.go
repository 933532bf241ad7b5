package config

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"
)

// WithAPIListen returns the config file data with api.listen set to
// listen, for an image that must be reachable although its config keeps
// the API on the local socket (`nucbox run`). The rest of the file stays
// as written, comments included: a config without an api section gets
// one appended; an api section without listen gets the key merged in.
// The result is parsed again, so a file it cannot edit is an error, not
// a silently different config.
func WithAPIListen(data []byte, listen string) ([]byte, error) {
	entry := "listen: " + strconv.Quote(listen) + "\n"
	f, err := parser.ParseBytes(data, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	p, err := yaml.PathString("$.api")
	if err != nil {
		return nil, err
	}
	var out []byte
	if n, err := p.FilterFile(f); err == nil && n != nil && n.String() != "null" {
		if err := p.MergeFromReader(f, strings.NewReader(entry)); err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
		out = []byte(f.String() + "\n")
	} else {
		out = append(bytes.TrimRight(data, "\n"), []byte("\n\napi:\n  "+entry)...)
	}
	c, err := Parse("config", out)
	if err != nil {
		return nil, err
	}
	if c.API.Listen != listen {
		return nil, fmt.Errorf("api.listen is %q after the edit, not %q", c.API.Listen, listen)
	}
	return out, nil
}
