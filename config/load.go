package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Load reads, defaults and validates the config file at path. Problems in
// the file come back as an ErrorList; a file that cannot be read comes back
// as the os error.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes data as the config file called filename, applies the
// defaults and validates the result. On failure the error is an ErrorList
// holding every problem found, decoding and semantic alike, each with its
// position and field path.
func Parse(filename string, data []byte) (c *Config, err error) {
	// PID 1 parses untrusted files: a panic in the YAML library must
	// become an error, never take the box down.
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, ErrorList{{File: filename, Line: 1, Column: 1, Message: oneLine(fmt.Sprintf("cannot parse the config: internal error: %v", r))}}
		}
	}()
	// Editors on some systems start files with a byte order mark.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, ErrorList{invalidUTF8(filename, data)}
	}
	// Tokenizing is iterative; parsing recurses, so the depth is
	// checked between the two.
	tokens := lexer.Tokenize(string(data))
	if e := depthError(filename, tokens); e != nil {
		return nil, ErrorList{e}
	}
	f, perr := parser.Parse(tokens, 0)
	if perr != nil {
		return nil, ErrorList{syntaxError(filename, perr)}
	}
	d := newDecoder(filename)
	var body ast.Node
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if _, ok := doc.Body.(*ast.DirectiveNode); ok {
			continue
		}
		if body != nil {
			p := tokenPos(doc.Start)
			if doc.Start == nil {
				p = nodePos(doc)
			}
			d.errorAt(p, "", "a config file holds one YAML document; remove the second one (---)")
			break
		}
		body = doc.Body
		d.collectAnchors(doc, map[string]*ast.AnchorNode{})
	}
	var cfg Config
	root := position{line: 1, col: 1}
	if body != nil {
		root = nodePos(body)
		if _, isMap := d.resolveQuiet(body).(*ast.MappingNode); !isMap {
			d.errorAt(root, "", "the config must be a mapping of fields such as hostname:, uplink: and vms:, got %s", describe(d.resolveQuiet(body)))
			body = nil
		}
	}
	if body != nil {
		d.value("", body, reflect.ValueOf(&cfg).Elem())
	}
	d.pos[""] = root
	if d.nodes >= maxNodes {
		// What was decoded is a fragment; validating it would only add
		// noise to the one error that matters.
		return nil, d.errs.err()
	}
	cfg.ApplyDefaults()
	errs := d.errs
	for _, e := range cfg.validate(locator{file: filename, pos: d.pos}) {
		if !d.reported(e.Path) {
			errs = append(errs, e)
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// resolveQuiet follows anchors for the top-level type check only; errors
// on the way are reported by the full decode.
func (d *decoder) resolveQuiet(n ast.Node) ast.Node {
	for range 64 {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.AliasNode:
			a := d.aliases[v]
			if a == nil {
				return n
			}
			n = a.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.MappingValueNode:
			return &ast.MappingNode{Values: []*ast.MappingValueNode{v}}
		default:
			return n
		}
	}
	return n
}

// reported tells whether a decoding error was already given for path or
// one of its parents, so validation does not repeat it as "required".
func (d *decoder) reported(path string) bool {
	for p := path; ; {
		if d.failed[p] {
			return true
		}
		parent, ok := parentPath(p)
		if !ok {
			return false
		}
		p = parent
	}
}

// parentPath strips the last ".field", "[index]" or "[\"key\"]".
func parentPath(p string) (string, bool) {
	if p == "" {
		return "", false
	}
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndex(p, "["); i >= 0 {
			return p[:i], true
		}
	}
	if i := strings.LastIndexAny(p, ".]"); i >= 0 {
		if p[i] == ']' {
			return p[:i+1], true
		}
		return p[:i], true
	}
	return "", true
}

// syntaxError turns the YAML library's error into one located Error; its
// own message spans several lines with a source excerpt, which the
// one-line-per-error format cannot hold.
func syntaxError(file string, err error) *Error {
	var te interface {
		GetToken() *token.Token
		GetMessage() string
	}
	if errors.As(err, &te) {
		p := tokenPos(te.GetToken())
		return &Error{File: file, Line: p.line, Column: p.col, Message: oneLine("YAML syntax: " + te.GetMessage())}
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return &Error{File: file, Line: 1, Column: 1, Message: "YAML syntax: " + msg}
}

// invalidUTF8 locates the first byte that is not UTF-8: YAML is text, and
// strings that are not could not be written back or shown faithfully.
func invalidUTF8(file string, data []byte) *Error {
	line, col := 1, 1
	for len(data) > 0 {
		r, n := utf8.DecodeRune(data)
		if r == utf8.RuneError && n <= 1 {
			break
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		data = data[n:]
	}
	return &Error{File: file, Line: line, Column: col, Message: "the config is not valid UTF-8 text"}
}
