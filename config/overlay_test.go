package config

import (
	"encoding/json"
	"testing"
)

// Each overlay and bond check, with the position and path of its error.
// The first case is the positive control: a config using every form
// loads without a problem.
func TestOverlayAndBondChecks(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{"every form loads", `
hostname: b
uplink:
  interface: {bond: [eno1, eno2], mode: 802.3ad}
  vlans: [30]
overlays:
  - {vlan: 10, vxlan: {vni: 1010, remotes: [192.168.1.21, 192.168.1.22]}}
  - {vlan: 20, vxlan: {vni: 1020, group: 239.1.1.10}}
  - {vlan: 40, gretap: {remote: 192.168.1.21}, mtu: 1400}
`, nil},
		{"overlay vlan on the uplink trunk", `
hostname: b
uplink: {vlans: [10]}
overlays:
  - {vlan: 10, vxlan: {vni: 1010, remotes: [192.168.1.21]}}
`, []string{"5:12 overlays[0].vlan: VLAN 10 is also on the uplink trunk"}},
		{"overlay on the native vlan", `
hostname: b
overlays:
  - {vlan: 1, gretap: {remote: 192.168.1.21}}
`, []string{"4:12 overlays[0].vlan: VLAN 1 is the uplink's native VLAN"}},
		{"vni used twice", `
hostname: b
overlays:
  - vlan: 10
    vxlan: {vni: 1010, remotes: [192.168.1.21]}
  - vlan: 20
    vxlan:
      vni: 1010
      remotes: [192.168.1.21]
`, []string{"8:12 overlays[1].vxlan.vni: VNI 1010 is already used at overlays[0].vxlan.vni (line 5)"}},
		{"vlan twice, no tunnel, both tunnels", `
hostname: b
overlays:
  - {vlan: 10, vxlan: {vni: 1, remotes: [10.0.0.2]}}
  - {vlan: 10}
  - {vlan: 11, vxlan: {vni: 2, remotes: [10.0.0.2]}, gretap: {remote: 10.0.0.2}}
`, []string{
			"5:5 overlays[1]: give the tunnel",
			"5:12 overlays[1].vlan: VLAN 10 already has an overlay at overlays[0].vlan (line 4)",
			"6:62 overlays[2].gretap: give either vxlan or gretap, not both",
		}},
		{"bad remotes and group", `
hostname: b
overlays:
  - vlan: 10
    vxlan: {vni: 16777216, remotes: [10.0.0.2, 10.0.0.2, 239.0.0.1]}
  - vlan: 11
    vxlan: {vni: 3, group: 10.0.0.9}
  - vlan: 12
    vxlan: {vni: 4}
`, []string{
			"5:18 overlays[0].vxlan.vni: VNI 16777216 outside 1..16777215",
			"5:48 overlays[0].vxlan.remotes[1]: remote 10.0.0.2 is already listed",
			"5:58 overlays[0].vxlan.remotes[2]: invalid remote \"239.0.0.1\"",
			"7:28 overlays[1].vxlan.group: invalid multicast group \"10.0.0.9\"",
			"9:12 overlays[2].vxlan: give remotes",
		}},
		{"bond member named twice, unknown mode, one member", `
hostname: b
uplink:
  interface:
    bond: [eno1, eno1]
    mode: round-robin
`, []string{
			"5:18 uplink.interface.bond[1]: bond member \"eno1\" is already named at uplink.interface.bond[0] (line 5)",
			"6:11 uplink.interface.mode: unknown bond mode \"round-robin\"",
		}},
		{"bond without members, bond with mac, member is the bridge", `
hostname: b
uplink:
  mac: 52:54:00:12:34:56
  interface: {bond: [br0, eno2], name: bond1}
`, []string{
			"4:8 uplink.mac: give either uplink.interface or uplink.mac",
			"5:22 uplink.interface.bond[0]: bond member \"br0\" is also the bridge",
		}},
		{"bond mapping without bond", `
hostname: b
uplink:
  interface: {mode: active-backup}
`, []string{"4:14 uplink.interface.bond: required"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			matchProblems(t, problems(t, tc.src), tc.want)
		})
	}
}

// The bond and the overlays get their defaults, and the union survives
// a JSON round trip.
func TestBondDefaultsAndJSON(t *testing.T) {
	c, err := Parse("box.yaml", []byte("hostname: b\nuplink: {interface: {bond: [eno1, eno2]}}\noverlays: [{vlan: 10, vxlan: {vni: 7, remotes: [10.0.0.2]}}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := c.Uplink.Interface.Bond
	if b == nil || b.Mode != BondActiveBackup || b.Name != DefaultBondName || !c.IsDefaulted("uplink.interface.mode") {
		t.Fatalf("bond defaults: %+v", b)
	}
	if c.Overlays[0].VXLAN.Port != 4789 || c.Overlays[0].TunnelMTU() != 1450 {
		t.Errorf("overlay defaults: port %d mtu %d", c.Overlays[0].VXLAN.Port, c.Overlays[0].TunnelMTU())
	}
	j, err := json.Marshal(c.Uplink)
	if err != nil {
		t.Fatal(err)
	}
	var u Uplink
	if err := json.Unmarshal(j, &u); err != nil || u.Interface.Bond == nil || u.Interface.Bond.Members[1] != "eno2" {
		t.Errorf("round trip of %s: %+v %v", j, u.Interface, err)
	}
}
