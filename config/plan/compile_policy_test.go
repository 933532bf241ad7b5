package plan

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/vswitch/policy"
)

// A NIC's own policy comes before its VLAN's; a VLAN policy reaches every
// port in the VLAN, a trunk's through its native VLAN; mirrors name links.
func TestCompilePolicies(t *testing.T) {
	d := compile(t, parse(t, `
hostname: box
uplink: {vlans: [10, 20]}
vms:
  - name: vm1
    nics:
      - {vlan: 10, mac: "02:00:00:00:00:01", ipv4: {address: 10.0.10.5/24},
         policy: {rate: 50Mbit, ra-guard: false, rules: [{action: deny, proto: tcp, port: 22}]}}
      - {trunk: [10], native: 20, mac: "02:00:00:00:00:02"}
    cloud-init: {}
containers:
  - name: ct
    image: oci-layout:/x
    nics: [{vlan: 10, mac: "02:00:00:00:00:03"}]
switch:
  vlans:
    - {vlan: 10, policy: {rate: 1Gbit, default: deny, spoof-guard: false,
                          rules: [{action: allow, proto: udp, port: 53, cidr: 10.0.10.1}]}}
  mirrors:
    - {from: [vm1.0], to: ct.0}
    - {from: [vm1.1], to: capture0}
`))
	dns := policy.Rule{Allow: true, Proto: "udp", Port: 53, CIDR: netip.MustParsePrefix("10.0.10.1/32")}
	want := policy.Spec{
		Ports: []policy.Port{
			{Link: "t-vm1-0", Name: "vm1.0", MAC: "02:00:00:00:00:01", IPv4: netip.MustParseAddr("10.0.10.5"),
				SpoofGuard: false, BPDUGuard: true, RAGuard: false, DefaultDeny: true, Rate: 50e6,
				Rules: []policy.Rule{{Allow: false, Proto: "tcp", Port: 22}, dns}},
			{Link: "t-vm1-1", Name: "vm1.1", MAC: "02:00:00:00:00:02", SpoofGuard: true, BPDUGuard: true, RAGuard: true},
			{Link: "v-ct-0", Name: "ct.0", MAC: "02:00:00:00:00:03", BPDUGuard: true, RAGuard: true,
				DefaultDeny: true, Rate: 1e9, Rules: []policy.Rule{dns}},
		},
		Mirrors: []policy.Mirror{
			{From: []string{"t-vm1-0"}, To: "v-ct-0"},
			{From: []string{"t-vm1-1"}, To: "capture0", Create: true},
		},
	}
	if !reflect.DeepEqual(d.Policy, want) {
		t.Errorf("policy:\n got %+v\nwant %+v", d.Policy, want)
	}
}

// A change of switch.* alone is a change of the network, not an empty
// apply.
func TestDiffSwitch(t *testing.T) {
	const base = "hostname: box\nuplink: {vlans: [10]}\ncontainers: [{name: ct, image: oci-layout:/x, nics: [{vlan: 10}]}]\n"
	old := parse(t, base)
	next := parse(t, base+"switch: {mirrors: [{from: [ct.0], to: capture0}]}\n")
	d := Diff(old, next)
	if d.Empty() || len(d.Network) == 0 || !strings.HasPrefix(d.Network[0].Path, "switch.mirrors") {
		t.Errorf("diff of a new mirror: %+v", d.Network)
	}
}
