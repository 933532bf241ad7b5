package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/test/harness"
)

// checkPlanMatchesBox compares what PID 1 created with what `nucbox plan`
// compiles from the same config: the bridge's ports with their VLAN rows,
// the box's VLAN interfaces with their addresses, and the workloads. Both
// directions count: nothing the plan asks for is missing and nothing the
// plan does not list sits on the bridge. It reads the box through
// `nucbox status` on the console, the same API a user reads.
func checkPlanMatchesBox(t *testing.T, m *harness.Machine, ri harness.ReadyInfo, name, text string) {
	t.Helper()
	cfg, err := config.Parse(name, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := p.Desired
	if ri.Network == nil || ri.Network.Uplink == "" {
		t.Fatalf("the ready summary names no uplink: %s", ri.Line)
	}
	sw := d.Switch.WithUplink(ri.Network.Uplink)

	raw := shellValue(t, m, "nucbox status --output json | tr -d '\\n'")
	var st api.Status
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatalf("nucbox status --output json: %v\n%s", err, raw)
	}
	links := map[string]api.Link{}
	for _, l := range st.Links {
		links[l.Name] = l
	}

	// Ports: the plan's, with the uplink, against the bridge's members.
	want := map[string]string{}
	for _, port := range sw.Ports {
		var vs []string
		for _, v := range port.VLANs() {
			vs = append(vs, fmt.Sprintf("%d pvid=%v untagged=%v", v.ID, v.PVID, v.Untagged))
		}
		want[port.Name] = strings.Join(vs, ", ")
	}
	got := map[string]string{}
	for _, l := range st.Links {
		if l.Master != sw.Bridge.Name {
			continue
		}
		var vs []string
		for _, v := range l.VLANs {
			vs = append(vs, fmt.Sprintf("%d pvid=%v untagged=%v", v.ID, v.PVID, v.Untagged))
		}
		got[l.Name] = strings.Join(vs, ", ")
	}
	if len(want) < 2 {
		t.Fatalf("the plan has %d bridge ports; the check needs the uplink and workload ports", len(want))
	}
	for port, vlans := range want {
		g, ok := got[port]
		switch {
		case !ok:
			t.Errorf("plan port %s (VLANs %s) is not on bridge %s", port, vlans, sw.Bridge.Name)
		case g != vlans:
			t.Errorf("port %s: VLANs on the box %q, in the plan %q", port, g, vlans)
		}
	}
	for port, vlans := range got {
		if _, ok := want[port]; !ok {
			t.Errorf("port %s (VLANs %s) is on bridge %s but not in the plan", port, vlans, sw.Bridge.Name)
		}
	}

	// The box's own addresses on VLANs.
	for _, a := range sw.Addresses {
		l, ok := links[a.Link]
		if !ok {
			t.Errorf("plan VLAN interface %s (%s) does not exist on the box", a.Link, a.Prefix)
			continue
		}
		if !slices.Contains(l.Addresses, a.Prefix.String()) {
			t.Errorf("VLAN interface %s has %v, the plan gives it %s", a.Link, l.Addresses, a.Prefix)
		}
	}

	// Workloads: the same kinds and names, no more, no fewer.
	var planned, running []string
	for _, vm := range d.VMs {
		planned = append(planned, "vm/"+vm.Name)
	}
	for _, ct := range d.Containers {
		planned = append(planned, "container/"+ct.Name)
	}
	for _, w := range st.Workloads {
		running = append(running, w.Kind+"/"+w.Name)
	}
	sort.Strings(planned)
	sort.Strings(running)
	if len(planned) == 0 {
		t.Fatal("the plan has no workloads; the check needs some")
	}
	if !slices.Equal(planned, running) {
		t.Errorf("workloads on the box %v, in the plan %v", running, planned)
	}
	t.Logf("plan and box agree: %d bridge ports, %d VLAN interfaces, workloads %v", len(want), len(sw.Addresses), planned)
}
