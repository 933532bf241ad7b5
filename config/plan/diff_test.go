package plan

import (
	"encoding/json"
	"strings"
	"testing"
)

const baseConfig = `
hostname: nuc1
uplink:
  vlans: [10, 20]
vms:
  - name: ubuntu1
    memory: 2GiB
    nics: [{vlan: 10}]
  - name: old
containers:
  - name: web
    image: nginx:1.27
    env: {A: "1", B: "2"}
    nics: [{vlan: 20}]
  - name: cache
    image: redis:7
`

func TestDiffNoChange(t *testing.T) {
	d := Diff(parse(t, baseConfig), parse(t, baseConfig))
	if !d.Empty() || len(d.Unchanged) != 4 {
		t.Errorf("diff = %+v", d)
	}
	var text strings.Builder
	d.WriteText(&text)
	if !strings.HasPrefix(text.String(), "No changes.\n") {
		t.Errorf("text = %q", text.String())
	}
}

func TestDiff(t *testing.T) {
	newConfig := strings.NewReplacer(
		"vlans: [10, 20]", "vlans: [10, 20, 30]",
		"memory: 2GiB", "memory: 4GiB",
		"nics: [{vlan: 10}]", "nics: [{vlan: 30}, {vlan: 10}]",
		"  - name: old\n", "",
		`env: {A: "1", B: "2"}`, `env: {A: "1", C: "3"}`,
	).Replace(baseConfig) + `
  - name: db
    image: postgres:16
`
	d := Diff(parse(t, baseConfig), parse(t, newConfig))
	if d.Empty() {
		t.Fatal("empty diff")
	}
	var text strings.Builder
	if err := d.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	const want = `network:
  ~ uplink.vlans: [10,20] -> [10,20,30]
workloads:
  + container db
  - vm old
  ~ vm ubuntu1
      memory: 2GiB -> 4GiB
      nics[0].vlan: 10 -> 30
      nics[1]: (none) -> {"vlan":10,"mac":"f6:fe:cc:b9:e0:83"}
  ~ container web
      env.B: 2 -> (none)
      env.C: (none) -> 3
  = container cache
`
	if text.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", text.String(), want)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back Delta
	if err := json.Unmarshal(b, &back); err != nil || len(back.Changed) != 2 || back.Added[0].Name != "db" {
		t.Errorf("json = %s, %v", b, err)
	}
}

// A new hostname changes every derived MAC, so every workload with a NIC
// that has no MAC of its own changes with it.
func TestDiffHostname(t *testing.T) {
	d := Diff(parse(t, baseConfig), parse(t, strings.Replace(baseConfig, "nuc1", "nuc2", 1)))
	if len(d.Box) != 1 || d.Box[0].Path != "hostname" || d.Box[0].Old != "nuc1" || d.Box[0].New != "nuc2" {
		t.Errorf("box = %+v", d.Box)
	}
	var names []string
	for _, w := range d.Changed {
		names = append(names, w.Name)
		if len(w.Changes) != 1 || w.Changes[0].Path != "nics[0].mac" {
			t.Errorf("%s changes = %+v", w.Name, w.Changes)
		}
	}
	if strings.Join(names, " ") != "ubuntu1 web" {
		t.Errorf("changed = %v", names)
	}
	if len(d.Unchanged) != 2 {
		t.Errorf("unchanged = %+v", d.Unchanged)
	}
}

// Turning a VM into a container of the same name replaces it.
func TestDiffKindChange(t *testing.T) {
	old := parse(t, "hostname: b\nvms: [{name: x}]\n")
	new := parse(t, "hostname: b\ncontainers: [{name: x, image: 'busybox:1'}]\n")
	d := Diff(old, new)
	if len(d.Added) != 1 || d.Added[0].Kind != WorkloadContainer || len(d.Removed) != 1 || d.Removed[0].Kind != WorkloadVM {
		t.Errorf("diff = %+v", d)
	}
}

func TestDiffFromNothing(t *testing.T) {
	d := Diff(nil, parse(t, baseConfig))
	if len(d.Added) != 4 || len(d.Removed) != 0 {
		t.Errorf("added = %+v", d.Added)
	}
	d = Diff(parse(t, baseConfig), nil)
	if len(d.Removed) != 4 {
		t.Errorf("removed = %+v", d.Removed)
	}
	// Pointer fields: a VNC display appears, and display 0 is a value.
	d = Diff(parse(t, "hostname: b\nvms: [{name: x}]\n"), parse(t, "hostname: b\nvms: [{name: x, vnc: 0, cloud-init: {user-data: hi}}]\n"))
	if len(d.Changed) != 1 || len(d.Changed[0].Changes) != 2 || d.Changed[0].Changes[0].New != "0" || d.Changed[0].Changes[1].New != `{"user-data":"hi"}` {
		t.Errorf("changes = %+v", d.Changed)
	}
}

// The reserve and the API's VLANs are box settings.
func TestDiffReserveAndAPIVLANs(t *testing.T) {
	const base = "hostname: b\nuplink: {vlans: [10], addresses: [{vlan: 10, address: 10.0.10.1/24}]}\napi: {listen: ':8443'}\n"
	d := Diff(parse(t, base), parse(t, base+"reserve: {memory: 512MiB}\n"))
	if len(d.Box) != 1 || d.Box[0].Path != "reserve.memory" || d.Box[0].Old != "256MiB" || d.Box[0].New != "512MiB" {
		t.Errorf("box = %+v", d.Box)
	}
	d = Diff(parse(t, base), parse(t, strings.Replace(base, "listen: ':8443'", "listen: ':8443', vlans: [10]", 1)))
	if len(d.Box) != 1 || d.Box[0].Path != "api.vlans" || d.Box[0].New != "[10]" {
		t.Errorf("box = %+v", d.Box)
	}
}
