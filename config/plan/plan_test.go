package plan

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func load(t *testing.T, path string) *config.Config {
	t.Helper()
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func parse(t *testing.T, src string) *config.Config {
	t.Helper()
	c, err := config.Parse("box.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update after checking the output):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// The text and JSON plans of each example, as the CLI prints them.
func TestPlanGolden(t *testing.T) {
	for _, name := range []string{"basic", "lab", "rack", "static"} {
		t.Run(name, func(t *testing.T) {
			c := load(t, "../../examples/"+name+".yaml")
			p, err := Compile(c)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Steps, Build(c).Steps) {
				t.Error("Compile's steps differ from Build's")
			}
			var text bytes.Buffer
			if err := p.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			golden(t, name+".golden", text.Bytes())
			js, err := json.MarshalIndent(p, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name+".json.golden", append(js, '\n'))
		})
	}
}

func kinds(p *Plan) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.Kind+" "+s.Name)
	}
	return out
}

func TestPlanOrder(t *testing.T) {
	p := Build(parse(t, `
hostname: nuc1
modules: [dummy]
uplink:
  vlans: [10]
  addresses: [{vlan: 10, address: 10.0.10.1/24}]
vms:
  - name: ubuntu1
    disks: [{path: a.qcow2, size: 10GiB}, {path: /srv/b.img, format: raw}]
    nics: [{vlan: 10}, {trunk: [10, 20]}]
    cloud-init: {}
containers:
  - name: web
    image: nginx:1.27
    nics: [{vlan: 20}]
`))
	want := []string{
		"modules dummy",
		"hostname nuc1",
		"uplink auto",
		"bridge br0",
		"takeover br0",
		"vlan-address vlan10",
		"firewall inet nucbox",
		"policy bridge nucbox",
		"time ntp",
		"reserve nucbox.workloads",
		"disk /var/lib/nucbox/a.qcow2",
		"disk /srv/b.img",
		"cloud-init ubuntu1 seed",
		"tap t-ubuntu1-0",
		"tap t-ubuntu1-1",
		"vm ubuntu1",
		"image index.docker.io/library/nginx:1.27",
		"veth v-web-0",
		"container web",
		"api /run/nucbox/api.sock",
	}
	if got := kinds(p); !slices.Equal(got, want) {
		t.Errorf("steps:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, s := range p.StepsOf("ubuntu1") {
		if s.Workload != "ubuntu1" {
			t.Errorf("StepsOf returned %+v", s)
		}
	}
	if n := len(p.StepsOf("web")); n != 3 {
		t.Errorf("web has %d steps, want 3", n)
	}
}

func detail(s Step, key string) (Detail, bool) {
	for _, d := range s.Details {
		if d.Key == key {
			return d, true
		}
	}
	return Detail{}, false
}

func step(t *testing.T, p *Plan, kind, name string) Step {
	t.Helper()
	for _, s := range p.Steps {
		if s.Kind == kind && s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %s %s in %q", kind, name, kinds(p))
	return Step{}
}

// Names and MACs come from the config package, and defaults are marked.
func TestPlanDetails(t *testing.T) {
	c := parse(t, `
hostname: nuc1
vms:
  - name: ubuntu1
    memory: 2GiB
    nics: [{}, {vlan: 30, mac: "02:00:00:00:00:30"}]
`)
	p := Build(c)
	tap := step(t, p, KindTAP, config.TAPName("ubuntu1", 0))
	if d, _ := detail(tap, "mac"); d.Value != config.DeriveMAC("nuc1", "ubuntu1", 0).String() || !d.Default {
		t.Errorf("derived mac detail = %+v", d)
	}
	if d, _ := detail(tap, "vlan"); d.Value != "1 (untagged), the uplink's native VLAN" || !d.Default {
		t.Errorf("vlan detail = %+v", d)
	}
	tap1 := step(t, p, KindTAP, "t-ubuntu1-1")
	if d, _ := detail(tap1, "mac"); d.Value != "02:00:00:00:00:30" || d.Default {
		t.Errorf("given mac detail = %+v", d)
	}
	if d, ok := detail(tap1, "box only"); !ok || d.Value != "VLAN 30 not carried by the uplink" {
		t.Errorf("box-only detail = %+v", d)
	}
	vm := step(t, p, KindVM, "ubuntu1")
	if d, _ := detail(vm, "memory"); d.Value != "2GiB" || d.Default {
		t.Errorf("memory = %+v", d)
	}
	if d, _ := detail(vm, "cpus"); d.Value != "1" || !d.Default {
		t.Errorf("cpus = %+v", d)
	}
	var text strings.Builder
	p.WriteText(&text)
	if !strings.Contains(text.String(), "cpus:              1 (default)") {
		t.Errorf("text does not mark defaults:\n%s", text.String())
	}
}

func TestPlanJSON(t *testing.T) {
	p := Build(load(t, "../../examples/lab.yaml"))
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	steps, _ := generic["steps"].([]any)
	if generic["hostname"] != "nuc1" || len(steps) != len(p.Steps) {
		t.Fatalf("json = %s", b)
	}
	first, _ := steps[0].(map[string]any)
	if first["kind"] != "hostname" || first["name"] != "nuc1" {
		t.Errorf("first step = %v", first)
	}
	var back Plan
	if err := json.Unmarshal(b, &back); err != nil || len(back.Steps) != len(p.Steps) {
		t.Errorf("round trip: %v", err)
	}
}

// The time and logging sections compile into the plan's steps and the
// desired state; without logging there is no logging step.
func TestPlanTimeAndLogging(t *testing.T) {
	c := parse(t, "hostname: b\ntime:\n  servers: [ntp1.lab, \"10.0.0.1:1123\"]\nlogging:\n  remote: tcp+tls://syslog.lab\n  buffer: 4MiB\n")
	p, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Desired; !slices.Equal(d.Time.Servers, []string{"ntp1.lab", "10.0.0.1:1123"}) || d.Logging != (Logging{Remote: "tcp+tls://syslog.lab", Buffer: 4 << 20}) {
		t.Errorf("desired time %+v, logging %+v", d.Time, d.Logging)
	}
	var text bytes.Buffer
	p.WriteText(&text)
	for _, want := range []string{"time ntp", "servers:  ntp1.lab, 10.0.0.1:1123", "logging tcp+tls://syslog.lab", "buffer:  4MiB"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, text.String())
		}
	}
	if p := Build(parse(t, "hostname: b\n")); slices.ContainsFunc(p.Steps, func(s Step) bool { return s.Kind == KindLogging }) {
		t.Error("a logging step without logging")
	}
}
