package plan

import (
	"reflect"
	"strings"
	"testing"
)

// A change to nothing but a NIC's port policy is applied in place: the
// workload is listed apart from the changed ones, which restart.
func TestDiffPortPolicyOnly(t *testing.T) {
	const base = `
hostname: b
containers:
  - name: web
    image: nginx:1.27
    nics:
      - {vlan: 10, policy: {rules: [{action: deny, proto: tcp, port: 22}]}}
      - {vlan: 20}
vms:
  - name: vm1
    nics: [{vlan: 10}]
switch:
  mirrors: [{from: [web.0], to: capture0}]
`
	for _, tc := range []struct {
		name, from, to  string
		policy, changed string // workload names
		ports           string
		text            string // a line the text must have
	}{
		{name: "rule", from: "port: 22", to: "port: 23", policy: "web", ports: "web.0",
			text: "  ~ container web: policy of port web.0 changes (in place, the container keeps running)\n      nics[0].policy.rules[0].port: 22 -> 23\n"},
		{name: "rate added", from: "{vlan: 20}", to: "{vlan: 20, policy: {rate: 10Mbit}}", policy: "web", ports: "web.1"},
		{name: "guards of a VM", from: "nics: [{vlan: 10}]", to: "nics: [{vlan: 10, policy: {bpdu-guard: false, spoof-guard: false}}]", policy: "vm1", ports: "vm1.0",
			text: "  ~ vm vm1: policy of port vm1.0 changes (in place, the VM keeps running)\n"},
		{name: "two ports", from: "port: 22}]}}\n      - {vlan: 20}", to: "port: 23}]}}\n      - {vlan: 20, policy: {ra-guard: false}}", policy: "web", ports: "web.0 web.1",
			text: "policy of ports web.0, web.1 changes"},
		// The positive control: a policy change together with anything
		// else restarts the workload, as any other change does.
		{name: "policy and VLAN", from: "port: 22}]}}\n      - {vlan: 20}", to: "port: 23}]}}\n      - {vlan: 30}", changed: "web",
			text: "  ~ container web\n      nics[0].policy.rules[0].port: 22 -> 23\n      nics[1].vlan: 20 -> 30\n"},
		{name: "image", from: "nginx:1.27", to: "nginx:1.28", changed: "web"},
		// A mirror is the switch's: no workload changes.
		{name: "mirror", from: "to: capture0", to: "to: capture1", text: "network:\n  ~ switch.mirrors[0].to: capture0 -> capture1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to := strings.Replace(base, tc.from, tc.to, 1)
			if to == base {
				t.Fatalf("%q is not in the config", tc.from)
			}
			d := Diff(parse(t, base), parse(t, to))
			names := func(ws []Workload) string {
				var s []string
				for _, w := range ws {
					s = append(s, w.Name)
				}
				return strings.Join(s, " ")
			}
			var ports []string
			for _, w := range d.Policy {
				ports = append(ports, w.Ports...)
			}
			if names(d.Policy) != tc.policy || names(d.Changed) != tc.changed || strings.Join(ports, " ") != tc.ports {
				t.Errorf("policy %q (ports %q), changed %q; want %q (%q), %q", names(d.Policy), ports, names(d.Changed), tc.policy, tc.ports, tc.changed)
			}
			if d.Empty() {
				t.Error("Empty")
			}
			// What the pools compare: the compiled spec of a workload
			// listed for its policy is the same, so it keeps running; a
			// changed one's differs, so it is replaced.
			specs := func(src string) map[string]any {
				p, err := Compile(parse(t, src))
				if err != nil {
					t.Fatal(err)
				}
				m := map[string]any{}
				for _, v := range p.Desired.VMs {
					m[v.Name] = v
				}
				for _, c := range p.Desired.Containers {
					m[c.Name] = c
				}
				return m
			}
			before, after := specs(base), specs(to)
			for _, w := range d.Policy {
				if !reflect.DeepEqual(before[w.Name], after[w.Name]) {
					t.Errorf("%s: listed as a policy change, but its compiled spec changes (the pool would restart it)", w.Name)
				}
			}
			for _, w := range d.Changed {
				if reflect.DeepEqual(before[w.Name], after[w.Name]) {
					t.Errorf("%s: listed as changed, but its compiled spec is the same", w.Name)
				}
			}
			var text strings.Builder
			if err := d.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text.String(), tc.text) {
				t.Errorf("text:\n%s\nwithout:\n%s", text.String(), tc.text)
			}
		})
	}
}
