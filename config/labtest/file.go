package labtest

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Expectations of a probe.
const (
	Reachable   = "reachable"
	Unreachable = "unreachable"
)

// DefaultWithin is how long a check that should pass keeps trying after
// the box is ready, for workloads that take a while to come up.
const DefaultWithin = time.Minute

// File is one test file.
type File struct {
	Path   string
	Within time.Duration
	Checks []Check
	// Lab are the machines on the uplink's wire that answer ARP and
	// ping, each on a VLAN the switch port carries tagged (or untagged
	// when VLAN is 0).
	Lab []LabHost
}

// LabHost is a lab machine on the uplink's wire.
type LabHost struct {
	VLAN    int        `yaml:"vlan"`
	Address string     `yaml:"address"`
	Addr    netip.Addr `yaml:"-"`
}

// Check is one line of expectation. Exactly one of Ping, Connect,
// Resolve and Status is set.
type Check struct {
	Name    string `yaml:"name"`
	From    string `yaml:"from"`
	Ping    string `yaml:"ping"`
	Connect string `yaml:"connect"`
	Resolve string `yaml:"resolve"`
	Server  string `yaml:"server"`
	Answer  string `yaml:"answer"`
	Expect  string `yaml:"expect"`
	Status  string `yaml:"status"`
	State   string `yaml:"state"`

	// Line is where the check starts in its file.
	Line int `yaml:"-"`
}

type fileYAML struct {
	Within string    `yaml:"within"`
	Checks []Check   `yaml:"checks"`
	Lab    []LabHost `yaml:"lab"`
}

// Load reads and checks the test file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse checks data as the test file called name. Every problem is
// reported, each as NAME:LINE: checks[N].FIELD: what is wrong.
func Parse(name string, data []byte) (*File, error) {
	var raw fileYAML
	if err := yaml.UnmarshalWithOptions(data, &raw, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("%s: %s", name, strings.TrimSpace(yaml.FormatError(err, false, true)))
	}
	f := &File{Path: name, Within: DefaultWithin, Checks: raw.Checks, Lab: raw.Lab}
	var errs []error
	at := func(line int, field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s: %s", name, line, field, fmt.Sprintf(format, args...)))
	}
	if raw.Within != "" {
		d, err := time.ParseDuration(raw.Within)
		if err != nil || d <= 0 || d > time.Hour {
			at(1, "within", "%q: want a duration such as 90s or 2m, at most 1h", raw.Within)
		}
		f.Within = d
	}
	if len(f.Checks) == 0 {
		at(1, "checks", "no checks: a test file lists at least one")
	}
	tree, _ := parser.ParseBytes(data, 0)
	for i := range f.Checks {
		c := &f.Checks[i]
		c.Line = lineOf(tree, fmt.Sprintf("$.checks[%d]", i))
		for _, e := range c.check() {
			at(c.Line, fmt.Sprintf("checks[%d].%s", i, e.field), "%s", e.msg)
		}
	}
	for i := range f.Lab {
		h := &f.Lab[i]
		line := lineOf(tree, fmt.Sprintf("$.lab[%d]", i))
		a, err := netip.ParseAddr(h.Address)
		if err != nil || !a.Is4() {
			at(line, fmt.Sprintf("lab[%d].address", i), "%q: want an IPv4 address", h.Address)
		}
		h.Addr = a
		if h.VLAN < 0 || h.VLAN > 4094 {
			at(line, fmt.Sprintf("lab[%d].vlan", i), "%d: want 1-4094, or leave it out for the untagged LAN", h.VLAN)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return f, nil
}

// lineOf is the line of the node at a YAML path, or 1.
func lineOf(f *ast.File, path string) int {
	p, err := yaml.PathString(path)
	if err != nil || f == nil {
		return 1
	}
	n, err := p.FilterFile(f)
	if err != nil || n == nil {
		return 1
	}
	return n.GetToken().Position.Line
}

type fieldError struct{ field, msg string }

func (c *Check) check() []fieldError {
	var out []fieldError
	bad := func(field, format string, args ...any) {
		out = append(out, fieldError{field, fmt.Sprintf(format, args...)})
	}
	set := 0
	for _, v := range []string{c.Ping, c.Connect, c.Resolve, c.Status} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		bad("ping", "give exactly one of ping, connect, resolve and status")
		return out
	}
	if c.Status != "" {
		if c.State == "" {
			bad("state", "a status check names the state the workload must be in (running, stopped, ...)")
		}
		for field, v := range map[string]string{"from": c.From, "expect": c.Expect, "server": c.Server, "answer": c.Answer} {
			if v != "" {
				bad(field, "not for a status check")
			}
		}
		return out
	}
	if c.State != "" {
		bad("state", "only for a status check")
	}
	if c.From == "" {
		bad("from", "name the container the probe starts from, or box")
	}
	switch c.Expect {
	case "":
		c.Expect = Reachable
	case Reachable, Unreachable:
	default:
		bad("expect", "%q: want reachable or unreachable", c.Expect)
	}
	switch {
	case c.Ping != "":
		if a, err := netip.ParseAddr(c.Ping); err != nil || !a.Is4() {
			bad("ping", "%q: want an IPv4 address", c.Ping)
		}
	case c.Connect != "":
		if _, err := netip.ParseAddrPort(c.Connect); err != nil {
			bad("connect", "%q: want IPv4-ADDRESS:PORT", c.Connect)
		}
	case c.Resolve != "":
		if c.Server != "" {
			if _, err := netip.ParseAddr(c.Server); err != nil {
				bad("server", "%q: want an IP address", c.Server)
			}
		}
		if c.Answer != "" {
			if _, err := netip.ParseAddr(c.Answer); err != nil {
				bad("answer", "%q: want an IP address", c.Answer)
			}
			if c.Expect == Unreachable {
				bad("answer", "an expected answer and expect: unreachable contradict each other")
			}
		}
	}
	if c.Resolve == "" {
		if c.Server != "" {
			bad("server", "only for a resolve check")
		}
		if c.Answer != "" {
			bad("answer", "only for a resolve check")
		}
	}
	return out
}

// Title is the check's name, or one made from what it checks.
func (c Check) Title() string {
	if c.Name != "" {
		return c.Name
	}
	if c.Status != "" {
		return c.Status + " is " + c.State
	}
	verb, what := "ping", c.Ping
	switch {
	case c.Connect != "":
		verb, what = "connect to", c.Connect
	case c.Resolve != "":
		verb, what = "resolve", c.Resolve
	}
	if c.Expect == Unreachable {
		return c.From + " must not " + verb + " " + what
	}
	t := c.From + " " + verb + " " + what
	if c.Answer != "" {
		t += " as " + c.Answer
	}
	return t
}

// Names checks every from and status against the config's workloads.
func (f *File) Names(containers, vms []string) error {
	has := func(list []string, n string) bool {
		for _, x := range list {
			if x == n {
				return true
			}
		}
		return false
	}
	var errs []error
	for i, c := range f.Checks {
		switch {
		case c.Status != "" && !has(containers, c.Status) && !has(vms, c.Status):
			errs = append(errs, fmt.Errorf("%s:%d: checks[%d].status: the config has no VM or container %q", f.Path, c.Line, i, c.Status))
		case c.From == "" || c.From == "box" || has(containers, c.From):
		case has(vms, c.From):
			errs = append(errs, fmt.Errorf("%s:%d: checks[%d].from: %s is a VM, whose network stack is inside its guest: probe from a container or the box", f.Path, c.Line, i, c.From))
		default:
			errs = append(errs, fmt.Errorf("%s:%d: checks[%d].from: the config has no container %q (or say box)", f.Path, c.Line, i, c.From))
		}
	}
	return errors.Join(errs...)
}
