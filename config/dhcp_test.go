package config

import "testing"

// Each DHCP and DNS check, with the position and field of its error; the
// valid case first, so a check that fires on everything fails it.
func TestDHCPChecks(t *testing.T) {
	const head = `
hostname: b
uplink:
  vlans: [20]
  addresses:
`
	const wl = `
vms:
  - name: v
    nics: [{vlan: 10, ipv4: {address: 10.0.10.5/24}}]
`
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{"valid: static VM address served by DHCP needs no cloud-init", head + `
    - {vlan: 10, address: 10.0.10.1/24, dhcp: {range: 10.0.10.100-10.0.10.199, lease: 1h}}
` + wl, nil},
		{"range outside the subnet", head + `
    - {vlan: 10, address: 10.0.10.1/24, dhcp: {range: 10.0.11.100-10.0.11.199}}
` + wl, []string{"7:55 uplink.addresses[0].dhcp.range: range 10.0.11.100-10.0.11.199 is outside the subnet 10.0.10.0/24"}},
		{"range includes the box", head + `
    - {vlan: 10, address: 10.0.10.1/24, dhcp: {range: 10.0.10.1-10.0.10.9}}
` + wl, []string{"7:55 uplink.addresses[0].dhcp.range: range 10.0.10.1-10.0.10.9 includes the box's own address"}},
		{"range not a range", head + `
    - {vlan: 10, address: 10.0.10.1/24, dhcp: {range: 10.0.10.9-10.0.10.2}}
` + wl, []string{`7:55 uplink.addresses[0].dhcp.range: invalid range "10.0.10.9-10.0.10.2": the first address 10.0.10.9 comes after`}},
		{"range missing", head + `
    - {vlan: 10, address: 10.0.10.1/24, dhcp: {lease: 1h}}
` + wl, []string{"7:47 uplink.addresses[0].dhcp.range: required"}},
		{"overlapping ranges", head + `
    - {vlan: 10, address: 10.0.10.1/24, dhcp: {range: 10.0.10.100-10.0.10.199}}
    - {vlan: 11, address: 10.0.10.2/23, dhcp: {range: 10.0.10.150-10.0.11.10}}
` + wl + `containers:
  - {name: c, image: busybox:1, nics: [{vlan: 11}]}
`, []string{"8:55 uplink.addresses[1].dhcp.range: range 10.0.10.150-10.0.11.10 overlaps the range 10.0.10.100-10.0.10.199 of uplink.addresses[0].dhcp.range (line 7)"}},
		{"static lease inside the dynamic range", head + `
    - {vlan: 10, address: 10.0.10.1/24, dhcp: {range: 10.0.10.2-10.0.10.99}}
` + wl, []string{"11:39 vms[0].nics[0].ipv4.address: address 10.0.10.5 is inside the DHCP range 10.0.10.2-10.0.10.99 of uplink.addresses[0].dhcp.range (line 7)"}},
		{"tagged uplink VLAN without opt-in", head + `
    - {vlan: 20, address: 10.0.20.1/24, dhcp: {range: 10.0.20.100-10.0.20.199}}
`, []string{"7:47 uplink.addresses[0].dhcp.on-uplink: VLAN 20 is carried by the uplink to the lab network"}},
		{"tagged uplink VLAN with opt-in", head + `
    - {vlan: 20, address: 10.0.20.1/24, dhcp: {range: 10.0.20.100-10.0.20.199, on-uplink: true}}
`, nil},
		{"native VLAN without opt-in", `
hostname: b
uplink:
  ipv4: {address: 192.168.1.2/24, gateway: 192.168.1.1}
  dhcp-server: {range: 192.168.1.100-192.168.1.199}
`, []string{"5:16 uplink.dhcp-server.on-uplink: this serves DHCP on the lab network (the uplink's native VLAN 1)"}},
		{"native VLAN with opt-in", `
hostname: b
uplink:
  ipv4: {address: 192.168.1.2/24, gateway: 192.168.1.1}
  dhcp-server: {range: 192.168.1.100-192.168.1.199, on-uplink: true}
`, nil},
		{"native VLAN with a DHCP uplink", `
hostname: b
uplink:
  dhcp-server: {range: 192.168.1.100-192.168.1.199, on-uplink: true}
`, []string{"4:16 uplink.dhcp-server: serving DHCP on the lab network needs a static uplink.ipv4"}},
		{"lease too short and MTU", head + `
    - {vlan: 10, address: 10.0.10.1/24, dhcp: {range: 10.0.10.100-10.0.10.199, lease: 10s, mtu: 100}}
` + wl, []string{"7:87 uplink.addresses[0].dhcp.lease: a lease of 10s is too short", "7:97 uplink.addresses[0].dhcp.mtu: MTU 100 out of range"}},
		{"static VM address without DHCP still needs cloud-init", head + `
    - {vlan: 10, address: 10.0.10.1/24}
` + wl, []string{"11:29 vms[0].nics[0].ipv4: a VM's static address is set through cloud-init"}},
		{"bad domain", `
hostname: b
dns: {domain: Lab_1}
`, []string{`3:15 dns.domain: invalid domain "Lab_1"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			matchProblems(t, problems(t, tc.src), tc.want)
		})
	}
}
