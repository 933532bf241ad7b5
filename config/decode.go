package config

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// The loader decodes the YAML syntax tree itself instead of using the YAML
// library's decoder, because that decoder stops at the first problem and
// loses positions; walking the tree lets every type mismatch and unknown
// field be reported, each with its line, column and field path, and leaves
// a table of positions that validation uses for its own errors.

// maxNodes bounds the work of decoding: aliases can make a small file
// expand to an exponential number of values ("billion laughs").
const maxNodes = 200_000

// position is where a value was written; null marks an explicit null,
// which counts as not set.
type position struct {
	line, col int
	null      bool
}

type decoder struct {
	file    string
	errs    ErrorList
	pos     map[string]position
	aliases map[*ast.AliasNode]*ast.AnchorNode
	nodes   int
	// failed holds the paths that had a decoding error, so that validation
	// does not report the same field again as missing or zero.
	failed map[string]bool
}

func newDecoder(file string) *decoder {
	return &decoder{
		file:    file,
		pos:     map[string]position{},
		aliases: map[*ast.AliasNode]*ast.AnchorNode{},
		failed:  map[string]bool{},
	}
}

func (d *decoder) errorAt(p position, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: p.line, Column: p.col, Path: path, Message: oneLine(fmt.Sprintf(format, args...))})
	d.failed[path] = true
}

// tokenPos is the 1-based position of a token; the library leaves it at
// column 0 for the content of block scalars, so clamp.
func tokenPos(tk *token.Token) position {
	if tk == nil || tk.Position == nil {
		return position{}
	}
	return position{line: max(tk.Position.Line, 1), col: max(tk.Position.Column, 1)}
}

// nodePos is where the user sees a node start: the first key of a block
// mapping (the library points at its first colon), the indicator of
// anchors, tags and block scalars.
func nodePos(n ast.Node) position {
	switch v := n.(type) {
	case nil:
		return position{}
	case *ast.MappingNode:
		if len(v.Values) > 0 && !v.IsFlowStyle {
			return nodePos(v.Values[0])
		}
		return tokenPos(v.Start)
	case *ast.MappingValueNode:
		return nodePos(v.Key)
	case *ast.MappingKeyNode:
		return tokenPos(v.Start)
	case *ast.SequenceNode:
		return tokenPos(v.Start)
	case *ast.LiteralNode:
		return tokenPos(v.Start)
	case *ast.AnchorNode:
		return tokenPos(v.Start)
	case *ast.AliasNode:
		return tokenPos(v.Start)
	case *ast.TagNode:
		return tokenPos(v.Start)
	case *ast.DocumentNode:
		if v.Body != nil {
			return nodePos(v.Body)
		}
		return tokenPos(v.Start)
	}
	return tokenPos(n.GetToken())
}

// collectAnchors binds each alias to the anchor it names. An anchor is
// defined only after its own content, so an alias can never reach back into
// the node that contains it and decoding cannot loop.
func (d *decoder) collectAnchors(n ast.Node, defined map[string]*ast.AnchorNode) {
	switch v := n.(type) {
	case nil:
	case *ast.DocumentNode:
		d.collectAnchors(v.Body, defined)
	case *ast.MappingNode:
		for _, mv := range v.Values {
			d.collectAnchors(mv, defined)
		}
	case *ast.MappingValueNode:
		d.collectAnchors(v.Key, defined)
		d.collectAnchors(v.Value, defined)
	case *ast.MappingKeyNode:
		d.collectAnchors(v.Value, defined)
	case *ast.SequenceNode:
		for _, x := range v.Values {
			d.collectAnchors(x, defined)
		}
	case *ast.TagNode:
		d.collectAnchors(v.Value, defined)
	case *ast.AnchorNode:
		d.collectAnchors(v.Value, defined)
		if name := anchorName(v.Name); name != "" {
			defined[name] = v
		}
	case *ast.AliasNode:
		d.aliases[v] = defined[anchorName(v.Value)]
	}
}

func anchorName(n ast.Node) string {
	if n == nil || n.GetToken() == nil {
		return ""
	}
	return n.GetToken().Value
}

// resolve looks through anchors, aliases and the one tag the config
// allows, !!str. It returns the node that carries the value, whether it was
// tagged !!str, and false when an error was reported.
func (d *decoder) resolve(path string, n ast.Node) (ast.Node, bool, bool) {
	forceStr := false
	for range 64 {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.AliasNode:
			a := d.aliases[v]
			if a == nil {
				d.errorAt(nodePos(v), path, "unknown alias *%s: an alias must follow its &anchor", anchorName(v.Value))
				return nil, false, false
			}
			n = a.Value
		case *ast.TagNode:
			tag := ""
			if v.Start != nil {
				tag = v.Start.Value
			}
			if tag != "!!str" && tag != "tag:yaml.org,2002:str" {
				d.errorAt(nodePos(v), path, "YAML tag %s is not supported (only !!str)", tag)
				return nil, false, false
			}
			forceStr = true
			n = v.Value
		default:
			return n, forceStr, true
		}
	}
	d.errorAt(nodePos(n), path, "too many nested anchors, aliases or tags")
	return nil, false, false
}

// entry is one key of a mapping after merge keys (<<) are expanded.
type entry struct {
	key   string
	pos   position
	value ast.Node
}

// entries lists a mapping's keys in order, with merged mappings' keys
// (from "<<: *base") placed where the merge key was and dropped when the
// mapping sets them itself, as YAML's merge key type says.
func (d *decoder) entries(path string, n ast.Node, depth int) ([]entry, bool) {
	var values []*ast.MappingValueNode
	switch v := n.(type) {
	case *ast.MappingNode:
		values = v.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{v}
	default:
		return nil, false
	}
	if depth > 16 {
		d.errorAt(nodePos(n), path, "merge keys nested too deeply")
		return nil, true
	}
	var out []entry
	explicit := map[string]bool{}
	merged := map[string]bool{}
	for _, mv := range values {
		if mv == nil || mv.Key == nil {
			continue
		}
		if mv.Key.IsMergeKey() {
			for _, m := range d.mergeSources(path, mv.Value) {
				sub, _ := d.entries(path, m, depth+1)
				for _, e := range sub {
					if !merged[e.key] {
						merged[e.key] = true
						out = append(out, entry{e.key, e.pos, e.value})
					}
				}
			}
			continue
		}
		key, ok := d.key(path, mv.Key)
		if !ok {
			continue
		}
		explicit[key] = true
		out = append(out, entry{key, nodePos(mv.Key), mv.Value})
	}
	// Keys written in the mapping itself win over merged ones; when both
	// exist, drop the merged copy.
	kept := make([]entry, 0, len(out))
	seen := map[string]bool{}
	for i := len(out) - 1; i >= 0; i-- {
		e := out[i]
		if seen[e.key] {
			continue
		}
		seen[e.key] = true
		kept = append(kept, e)
	}
	slices.Reverse(kept)
	return kept, true
}

// mergeSources resolves the value of a merge key: a mapping, an alias of
// one, or a list of them.
func (d *decoder) mergeSources(path string, n ast.Node) []ast.Node {
	n, _, ok := d.resolve(path, n)
	if !ok {
		return nil
	}
	switch v := n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return []ast.Node{v}
	case *ast.SequenceNode:
		var out []ast.Node
		for _, x := range v.Values {
			x, _, ok := d.resolve(path, x)
			if !ok {
				continue
			}
			switch x.(type) {
			case *ast.MappingNode, *ast.MappingValueNode:
				out = append(out, x)
			default:
				d.errorAt(nodePos(x), path, "a merge key (<<) takes a mapping or a list of mappings")
			}
		}
		return out
	}
	d.errorAt(nodePos(n), path, "a merge key (<<) takes a mapping or a list of mappings")
	return nil
}

func (d *decoder) key(path string, k ast.Node) (string, bool) {
	if mk, ok := k.(*ast.MappingKeyNode); ok {
		k = mk.Value
	}
	k, _, ok := d.resolve(path, k)
	if !ok {
		return "", false
	}
	switch v := k.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value, true
		}
	case ast.ScalarNode:
		if tk := v.GetToken(); tk != nil {
			return tk.Value, true
		}
	}
	d.errorAt(nodePos(k), path, "a key must be a plain string")
	return "", false
}

// field is one struct field as the config names it.
type field struct {
	index     int
	name      string
	omitEmpty bool
}

var fieldCache sync.Map // reflect.Type -> []field

func fieldsOf(t reflect.Type) []field {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]field)
	}
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		out = append(out, field{i, name, strings.Contains(opts, "omitempty")})
	}
	fieldCache.Store(t, out)
	return out
}

var simpleKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// joinKey extends a field path the way the user would write it.
func joinKey(path, key string) string {
	if !simpleKey.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func joinIndex(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

var (
	sizeType     = reflect.TypeFor[Size]()
	durationType = reflect.TypeFor[Duration]()
	ipv4Type     = reflect.TypeFor[IPv4]()
	ipv6UpType   = reflect.TypeFor[UplinkIPv6]()
	ifaceType    = reflect.TypeFor[Interface]()
	rateType     = reflect.TypeFor[Rate]()
)

// value decodes node n into v (addressable), recording the position of
// path.
func (d *decoder) value(path string, n ast.Node, v reflect.Value) {
	d.nodes++
	if d.nodes == maxNodes {
		d.errorAt(nodePos(n), path, "the config is too large (aliases expand to more than %d values)", maxNodes)
	}
	if d.nodes >= maxNodes {
		return
	}
	p := nodePos(n)
	n, forceStr, ok := d.resolve(path, n)
	if !ok {
		return
	}
	if n == nil || n.Type() == ast.NullType {
		d.pos[path] = position{line: p.line, col: p.col, null: true}
		return
	}
	d.pos[path] = p

	if forceStr {
		if v.Kind() != reflect.String {
			d.errorAt(p, path, "!!str makes a string, but %s", expectation(v.Type()))
			return
		}
		if s, ok := scalarText(n); ok {
			v.SetString(s)
			return
		}
		d.errorAt(p, path, "!!str needs a scalar, got %s", describe(n))
		return
	}

	switch v.Type() {
	case sizeType:
		d.size(path, p, n, v)
		return
	case durationType:
		d.duration(path, p, n, v)
		return
	case ipv4Type:
		d.ipv4(path, p, n, v)
		return
	case ipv6UpType:
		d.uplinkIPv6(path, p, n, v.Addr().Interface().(*UplinkIPv6))
		return
	case ifaceType:
		d.iface(path, p, n, v)
		return
	case rateType:
		// A bare number is read as text so that validation can say
		// what unit it lacks, instead of a type mismatch.
		if s, ok := scalarText(n); ok {
			v.SetString(s)
			return
		}
	}

	switch v.Kind() {
	case reflect.Struct:
		es, ok := d.entries(path, n, 0)
		if !ok {
			d.errorAt(p, path, "expected a mapping, got %s", describe(n))
			return
		}
		d.structFields(path, es, v)
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			d.errorAt(p, path, "expected a list, got %s", describe(n))
			return
		}
		// An empty list decodes to nil, as if it were left out, so that a
		// config reads the same after being written back.
		if len(seq.Values) == 0 {
			return
		}
		s := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
		for i, x := range seq.Values {
			d.value(joinIndex(path, i), x, s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		es, ok := d.entries(path, n, 0)
		if !ok {
			d.errorAt(p, path, "expected a mapping, got %s", describe(n))
			return
		}
		if len(es) == 0 {
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(es))
		for _, e := range es {
			ev := reflect.New(v.Type().Elem()).Elem()
			d.value(joinKey(path, e.key), e.value, ev)
			m.SetMapIndex(reflect.ValueOf(e.key).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
	case reflect.Pointer:
		ev := reflect.New(v.Type().Elem())
		d.value(path, n, ev.Elem())
		v.Set(ev)
	case reflect.String:
		s, ok := stringValue(n)
		if !ok {
			d.errorAt(p, path, "%s, got %s%s", expectation(v.Type()), describe(n), quoteHint(n))
			return
		}
		v.SetString(s)
	case reflect.Int:
		i, ok := intValue(n)
		if !ok {
			d.errorAt(p, path, "%s, got %s", expectation(v.Type()), describe(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		switch n.(type) {
		case *ast.NanNode, *ast.InfinityNode:
			d.errorAt(p, path, "expected a finite number, got %s", describe(n))
			return
		}
		f, ok := floatValue(n)
		if !ok {
			d.errorAt(p, path, "%s, got %s", expectation(v.Type()), describe(n))
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.errorAt(p, path, "%s, got %s", expectation(v.Type()), describe(n))
			return
		}
		v.SetBool(b.Value)
	default:
		// Unreachable with the config's types; kept as an error rather
		// than a panic so that a new field type fails loudly in tests.
		d.errorAt(p, path, "cannot decode into %s", v.Type())
	}
}

func (d *decoder) structFields(path string, es []entry, v reflect.Value) {
	fields := fieldsOf(v.Type())
	for _, e := range es {
		i := slices.IndexFunc(fields, func(f field) bool { return f.name == e.key })
		fp := joinKey(path, e.key)
		if i < 0 {
			d.errorAt(e.pos, fp, "unknown field %q%s", e.key, suggest(e.key, fields))
			continue
		}
		f := fields[i]
		fv := v.Field(f.index)
		d.value(fp, e.value, fv)
		// Zero means "use the default" for these fields, so a zero the
		// user wrote would silently become the default: say so instead.
		if f.omitEmpty && !d.failed[fp] && !d.pos[fp].null && isNumber(fv) && fv.IsZero() {
			if _, written := d.pos[fp]; written {
				d.errorAt(d.pos[fp], fp, "%s", zeroMessage(f.name))
			}
		}
	}
}

func isNumber(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Int, reflect.Int64, reflect.Uint64, reflect.Float64:
		return true
	}
	return false
}

func zeroMessage(name string) string {
	switch name {
	case "vlan", "native", "native-vlan":
		return "VLAN id must be between 1 and 4094"
	}
	return "must be greater than 0 (leave the field out for the default)"
}

// suggest names the field the user probably meant, or lists the fields
// when nothing is close.
func suggest(key string, fields []field) string {
	best, bestDist := "", 3
	for _, f := range fields {
		if dist := editDistance(strings.ToLower(key), f.name); dist < bestDist {
			best, bestDist = f.name, dist
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return " (known fields: " + strings.Join(names, ", ") + ")"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (d *decoder) size(path string, p position, n ast.Node, v reflect.Value) {
	if iv, ok := n.(*ast.IntegerNode); ok {
		switch x := iv.Value.(type) {
		case int64:
			if x >= 0 {
				v.SetUint(uint64(x))
				return
			}
		case uint64:
			v.SetUint(x)
			return
		}
		d.errorAt(p, path, "invalid size %s: must not be negative", iv.GetToken().Value)
		return
	}
	s, ok := stringValue(n)
	if !ok {
		d.errorAt(p, path, "expected a size such as 512MiB or 2GiB, got %s", describe(n))
		return
	}
	sz, err := ParseSize(s)
	if err != nil {
		d.errorAt(p, path, "%v", err)
		return
	}
	v.SetUint(uint64(sz))
}

func (d *decoder) duration(path string, p position, n ast.Node, v reflect.Value) {
	s, ok := scalarText(n)
	if !ok {
		d.errorAt(p, path, "expected a duration such as 10s or 1m30s, got %s", describe(n))
		return
	}
	dur, err := ParseDuration(s)
	if err != nil {
		d.errorAt(p, path, "%v", err)
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) ipv4(path string, p position, n ast.Node, v reflect.Value) {
	u, ok := d.addrUnion(path, p, n, "ipv4", []string{ipv4DHCP}, errIPv4Form,
		"an address with prefix length such as 192.168.1.10/24 (or write ipv4: dhcp)")
	if !ok {
		return
	}
	if u.Mode != "" {
		v.Set(reflect.ValueOf(IPv4{DHCP: true}))
		return
	}
	v.Set(reflect.ValueOf(IPv4{Address: u.Static.Address, Gateway: u.Static.Gateway}))
}

// stringValue accepts only what YAML itself reads as a string, so that
// "version: 1.10" cannot silently become "1.1".
func stringValue(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value == nil {
			return "", true
		}
		return v.Value.Value, true
	}
	return "", false
}

// scalarText is a scalar as written, for !!str and for durations (a bare
// number is then reported as missing its unit).
func scalarText(n ast.Node) (string, bool) {
	if s, ok := stringValue(n); ok {
		return s, true
	}
	if sc, ok := n.(ast.ScalarNode); ok && sc.GetToken() != nil {
		switch n.(type) {
		case *ast.MappingKeyNode, *ast.MergeKeyNode:
			return "", false
		}
		return sc.GetToken().Value, true
	}
	return "", false
}

func intValue(n ast.Node) (int64, bool) {
	iv, ok := n.(*ast.IntegerNode)
	if !ok {
		return 0, false
	}
	switch x := iv.Value.(type) {
	case int64:
		return x, true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

func floatValue(n ast.Node) (float64, bool) {
	switch v := n.(type) {
	case *ast.FloatNode:
		return v.Value, true
	case *ast.IntegerNode:
		switch x := v.Value.(type) {
		case int64:
			return float64(x), true
		case uint64:
			return float64(x), true
		}
	}
	return 0, false
}

func expectation(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "expected a string"
	case reflect.Int:
		return "expected a whole number"
	case reflect.Float64:
		return "expected a number"
	case reflect.Bool:
		return "expected true or false"
	}
	return "expected " + t.String()
}

// describe names what the user wrote, in YAML's terms.
func describe(n ast.Node) string {
	text := ""
	if tk := n.GetToken(); tk != nil {
		text = tk.Value
	}
	switch v := n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.IntegerNode:
		if _, ok := intValue(v); !ok {
			return "the number " + text + ", which is out of range"
		}
		return "the number " + text
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "the number " + text
	case *ast.BoolNode:
		return "the boolean " + text
	case *ast.StringNode:
		if tk := v.GetToken(); tk != nil && tk.Type == token.StringType && isDigits(v.Value) {
			return "the number " + v.Value + ", which is out of range"
		}
		return "the string " + strconv.Quote(v.Value)
	case *ast.LiteralNode:
		return "a block string"
	}
	return "a " + strings.ToLower(n.Type().String())
}

func quoteHint(n ast.Node) string {
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return " (quote it to make it a string)"
	}
	return ""
}

func isDigits(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// iface reads the uplink's interface: a link name, or a bond mapping.
func (d *decoder) iface(path string, p position, n ast.Node, v reflect.Value) {
	if s, ok := stringValue(n); ok {
		v.Set(reflect.ValueOf(Interface{Name: s}))
		return
	}
	es, ok := d.entries(path, n, 0)
	if !ok {
		d.errorAt(p, path, "invalid interface: %v, got %s", errInterfaceForm, describe(n))
		return
	}
	var b Bond
	d.structFields(path, es, reflect.ValueOf(&b).Elem())
	if b.Members == nil && !d.failed[path+".bond"] {
		d.errorAt(p, path+".bond", "required: the NICs of the bond, such as bond: [eno1, eno2]")
	}
	v.Set(reflect.ValueOf(Interface{Bond: &b}))
}
