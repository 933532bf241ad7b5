package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nucbox/nucbox/config"
)

// Workload kinds in a Delta.
const (
	WorkloadVM        = "vm"
	WorkloadContainer = "container"
)

// Delta is what changes between a running config and a new one.
type Delta struct {
	// Added, Removed, Changed and Unchanged partition the workloads of
	// both configs. A workload is identified by kind and name: renaming
	// one, or turning a VM into a container of the same name, is a
	// removal plus an addition.
	Added     []Workload `json:"added"`
	Removed   []Workload `json:"removed"`
	Changed   []Workload `json:"changed"`
	Unchanged []Workload `json:"unchanged"`
	// Policy are the workloads whose changes are all in their NICs' port
	// policies: the bridge's rules and qdiscs change in place and the
	// workload keeps running. Ports names their ports (WORKLOAD.N).
	Policy []Workload `json:"policy"`
	// Network lists changed uplink and bridge settings (uplink.*).
	Network []Change `json:"network"`
	// Box lists other changed box settings: hostname, modules, state-dir,
	// registries, api, reserve.
	Box []Change `json:"box"`
}

// Workload is one VM or container; Changes is set for changed ones.
type Workload struct {
	Kind    string   `json:"kind"`
	Name    string   `json:"name"`
	Changes []Change `json:"changes,omitempty"`
	// Ports are the ports whose policy changes, in Delta.Policy.
	Ports []string `json:"ports,omitempty"`
}

// Change is one changed value. Path is the config path relative to the
// section it is listed in (the workload, or the config root); Old and New
// are the values as the config writes them, empty when absent.
type Change struct {
	Path string `json:"path"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
}

// Empty reports whether applying the new config would change nothing.
func (d *Delta) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0 && len(d.Policy) == 0 && len(d.Network) == 0 && len(d.Box) == 0
}

// Diff computes the difference between the config that runs (old,
// nil at first boot) and a new one (nil to remove everything). Both should
// come from config.Parse, so that defaults and derived MACs are filled in:
// a hostname change then shows up in every workload whose MAC it changes.
func Diff(old, new *config.Config) *Delta {
	if old == nil {
		old = &config.Config{}
	}
	if new == nil {
		new = &config.Config{}
	}
	d := &Delta{Added: []Workload{}, Removed: []Workload{}, Changed: []Workload{}, Unchanged: []Workload{}, Policy: []Workload{}, Network: []Change{}, Box: []Change{}}

	type key struct{ kind, name string }
	oldW := map[key]reflect.Value{}
	for i := range old.VMs {
		oldW[key{WorkloadVM, old.VMs[i].Name}] = reflect.ValueOf(old.VMs[i])
	}
	for i := range old.Containers {
		oldW[key{WorkloadContainer, old.Containers[i].Name}] = reflect.ValueOf(old.Containers[i])
	}
	seen := map[key]bool{}
	visit := func(k key, nv reflect.Value) {
		seen[k] = true
		ov, ok := oldW[k]
		if !ok {
			d.Added = append(d.Added, Workload{Kind: k.kind, Name: k.name})
			return
		}
		var ch []Change
		diffValue("", ov, nv, &ch)
		if len(ch) == 0 {
			d.Unchanged = append(d.Unchanged, Workload{Kind: k.kind, Name: k.name})
			return
		}
		if ports := policyPorts(k.name, ch); ports != nil {
			d.Policy = append(d.Policy, Workload{Kind: k.kind, Name: k.name, Changes: ch, Ports: ports})
			return
		}
		d.Changed = append(d.Changed, Workload{Kind: k.kind, Name: k.name, Changes: ch})
	}
	for i := range new.VMs {
		visit(key{WorkloadVM, new.VMs[i].Name}, reflect.ValueOf(new.VMs[i]))
	}
	for i := range new.Containers {
		visit(key{WorkloadContainer, new.Containers[i].Name}, reflect.ValueOf(new.Containers[i]))
	}
	for i := range old.VMs {
		if k := (key{WorkloadVM, old.VMs[i].Name}); !seen[k] {
			d.Removed = append(d.Removed, Workload{Kind: k.kind, Name: k.name})
		}
	}
	for i := range old.Containers {
		if k := (key{WorkloadContainer, old.Containers[i].Name}); !seen[k] {
			d.Removed = append(d.Removed, Workload{Kind: k.kind, Name: k.name})
		}
	}

	diffValue("uplink", reflect.ValueOf(old.Uplink), reflect.ValueOf(new.Uplink), &d.Network)
	diffValue("switch", reflect.ValueOf(old.Switch), reflect.ValueOf(new.Switch), &d.Network)
	ov, nv := reflect.ValueOf(*old), reflect.ValueOf(*new)
	for _, f := range []string{"Hostname", "Modules", "StateDir", "Registries", "API", "Reserve", "Time", "Logging", "DNS"} {
		sf, _ := ov.Type().FieldByName(f)
		diffValue(yamlName(sf), ov.FieldByName(f), nv.FieldByName(f), &d.Box)
	}
	return d
}

var stringerType = reflect.TypeFor[fmt.Stringer]()

// policyPath is a change inside a NIC's port policy; its group is the
// NIC's index.
var policyPath = regexp.MustCompile(`^nics\[(\d+)\]\.policy($|\.)`)

// policyPorts names the ports of workload whose policy ch changes, or is
// nil when ch changes anything else: only then is the change live. The
// workload's spec (vmm.Spec, containers.Spec) carries no policy, so the
// pool keeps it running; the network stage rewrites the bridge table and
// qdiscs.
func policyPorts(workload string, ch []Change) []string {
	var ports []string
	for _, c := range ch {
		m := policyPath.FindStringSubmatch(c.Path)
		if m == nil {
			return nil
		}
		if p := workload + "." + m[1]; !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports
}

// diffValue appends the leaf differences between a and b under path.
// Lists of scalars (VLAN lists, DNS servers, commands) are compared as one
// value, because an element-wise report of a shifted list is unreadable;
// lists of structs (NICs, disks) are compared by index.
func diffValue(path string, a, b reflect.Value, out *[]Change) {
	if reflect.DeepEqual(a.Interface(), b.Interface()) {
		return
	}
	t := a.Type()
	switch {
	case t.Implements(stringerType) && t.Kind() != reflect.Struct:
	case t.Kind() == reflect.Struct && t != reflect.TypeFor[config.IPv4]() && t != reflect.TypeFor[config.UplinkIPv6]():
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			diffValue(join(path, yamlName(sf)), a.Field(i), b.Field(i), out)
		}
		return
	case t.Kind() == reflect.Pointer && !a.IsNil() && !b.IsNil():
		diffValue(path, a.Elem(), b.Elem(), out)
		return
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		n := max(a.Len(), b.Len())
		for i := range n {
			p := path + "[" + strconv.Itoa(i) + "]"
			switch {
			case i >= a.Len():
				*out = append(*out, Change{Path: p, New: format(b.Index(i))})
			case i >= b.Len():
				*out = append(*out, Change{Path: p, Old: format(a.Index(i))})
			default:
				diffValue(p, a.Index(i), b.Index(i), out)
			}
		}
		return
	case t.Kind() == reflect.Map:
		keys := map[string]bool{}
		for _, k := range a.MapKeys() {
			keys[k.String()] = true
		}
		for _, k := range b.MapKeys() {
			keys[k.String()] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		slices.Sort(sorted)
		for _, k := range sorted {
			kv := reflect.ValueOf(k).Convert(t.Key())
			av, bv := a.MapIndex(kv), b.MapIndex(kv)
			c := Change{Path: join(path, k)}
			if av.IsValid() {
				c.Old = format(av)
			}
			if bv.IsValid() {
				c.New = format(bv)
			}
			if c.Old != c.New || av.IsValid() != bv.IsValid() {
				*out = append(*out, c)
			}
		}
		return
	}
	*out = append(*out, Change{Path: path, Old: format(a), New: format(b)})
}

// format writes a value as the config does: sizes and durations in their
// units, IPv4 as dhcp or its address, lists and structs as compact JSON.
func format(v reflect.Value) string {
	if !v.IsValid() || v.IsZero() {
		return ""
	}
	switch x := v.Interface().(type) {
	case string:
		return x
	case config.Restart:
		return string(x)
	case fmt.Stringer:
		return x.String()
	}
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return fmt.Sprint(v.Interface())
	}
	return string(b)
}

func yamlName(sf reflect.StructField) string {
	name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
	if name == "" || name == "-" {
		return strings.ToLower(sf.Name)
	}
	return name
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// WriteText prints the diff for people, one line per workload or setting:
// "+" added, "-" removed, "~" changed (restarted, or for a port policy
// only, changed in place), "=" unchanged.
func (d *Delta) WriteText(w io.Writer) error {
	var sb strings.Builder
	if d.Empty() {
		sb.WriteString("No changes.\n")
	}
	writeChanges := func(title string, cs []Change) {
		if len(cs) == 0 {
			return
		}
		sb.WriteString(title + ":\n")
		for _, c := range cs {
			fmt.Fprintf(&sb, "  ~ %s: %s -> %s\n", c.Path, orNone(c.Old), orNone(c.New))
		}
	}
	writeChanges("box", d.Box)
	writeChanges("network", d.Network)
	if n := len(d.Added) + len(d.Removed) + len(d.Changed) + len(d.Policy) + len(d.Unchanged); n > 0 {
		sb.WriteString("workloads:\n")
		for _, x := range d.Added {
			fmt.Fprintf(&sb, "  + %s %s\n", x.Kind, x.Name)
		}
		for _, x := range d.Removed {
			fmt.Fprintf(&sb, "  - %s %s\n", x.Kind, x.Name)
		}
		for _, x := range d.Changed {
			fmt.Fprintf(&sb, "  ~ %s %s\n", x.Kind, x.Name)
			for _, c := range x.Changes {
				fmt.Fprintf(&sb, "      %s: %s -> %s\n", c.Path, orNone(c.Old), orNone(c.New))
			}
		}
		for _, x := range d.Policy {
			noun := "port"
			if len(x.Ports) > 1 {
				noun = "ports"
			}
			fmt.Fprintf(&sb, "  ~ %s %s: policy of %s %s changes (in place, the %s keeps running)\n",
				x.Kind, x.Name, noun, strings.Join(x.Ports, ", "), workloadNoun[x.Kind])
			for _, c := range x.Changes {
				fmt.Fprintf(&sb, "      %s: %s -> %s\n", c.Path, orNone(c.Old), orNone(c.New))
			}
		}
		for _, x := range d.Unchanged {
			fmt.Fprintf(&sb, "  = %s %s\n", x.Kind, x.Name)
		}
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

var workloadNoun = map[string]string{WorkloadVM: "VM", WorkloadContainer: "container"}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
