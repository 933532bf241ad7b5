package config

import "testing"

// A box IPv6 address on a VLAN: errors name the field's line and column;
// the valid configs (the positive controls) parse, an internal VLAN's
// address advertises, an uplink VLAN's does not, whatever its length.
func TestBoxIPv6Address(t *testing.T) {
	const head = `
hostname: b
uplink:
  vlans: [30]
  addresses:
`
	const ct = `
containers:
  - {name: c, image: "oci-layout:/x", nics: [{vlan: 10}, {vlan: 20}]}
`
	for _, tc := range []struct {
		name, addrs string
		want        []string
	}{
		{"internal /64 and uplink /56", `
    - {vlan: 10, address: 10.0.10.1/24, ipv6: "fd00:10::1/64"}
    - {vlan: 30, address: 10.0.30.1/24, ipv6: "2001:db8:30::1/56"}
`, nil},
		{"internal VLAN not /64", `
    - {vlan: 10, address: 10.0.10.1/24, ipv6: "fd00:10::1/56"}
`, []string{`6:47 uplink.addresses[0].ipv6: invalid address "fd00:10::1/56": the box advertises this VLAN's prefix for address autoconfiguration, which needs a /64`}},
		{"IPv4 in ipv6", `
    - {vlan: 10, address: 10.0.10.1/24, ipv6: 10.0.11.1/24}
`, []string{`6:47 uplink.addresses[0].ipv6: invalid address "10.0.11.1/24": use an IPv6 address here`}},
		{"link-local", `
    - {vlan: 10, address: 10.0.10.1/24, ipv6: "fe80::1/64"}
`, []string{`6:47 uplink.addresses[0].ipv6: invalid address "fe80::1/64": not a global or unique local unicast address`}},
		{"no prefix length", `
    - {vlan: 10, address: 10.0.10.1/24, ipv6: "fd00:10::1"}
`, []string{`6:47 uplink.addresses[0].ipv6: invalid address "fd00:10::1": use an IPv6 address with prefix length`}},
		{"overlapping VLANs", `
    - {vlan: 10, address: 10.0.10.1/24, ipv6: "fd00:10::1/64"}
    - {vlan: 20, address: 10.0.20.1/24, ipv6: "fd00:10::2/64"}
`, []string{`7:47 uplink.addresses[1].ipv6: subnet fd00:10::/64 overlaps fd00:10::/64 of uplink.addresses[0].ipv6 (line 6)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			matchProblems(t, problems(t, head+tc.addrs[1:]+ct), tc.want)
		})
	}
	c, err := Parse("box.yaml", []byte(head+"    - {vlan: 10, address: 10.0.10.1/24, ipv6: \"fd00:10::1/64\"}\n    - {vlan: 30, address: 10.0.30.1/24, ipv6: \"2001:db8:30::1/56\"}\n"+ct))
	if err != nil {
		t.Fatal(err)
	}
	u := &c.Uplink
	if !u.AdvertisesIPv6(u.Addresses[0]) || u.AdvertisesIPv6(u.Addresses[1]) {
		t.Errorf("advertises on VLAN 10: %v (want true), on the uplink's VLAN 30: %v (want false)",
			u.AdvertisesIPv6(u.Addresses[0]), u.AdvertisesIPv6(u.Addresses[1]))
	}
}

// A workload NIC's static IPv6 address: errors with line and column; a
// container's and a VM's with cloud-init parse (the positive control).
func TestNICIPv6Address(t *testing.T) {
	const head = `
hostname: b
uplink:
  addresses: [{vlan: 10, address: 10.0.10.1/24, ipv6: "fd00:10::1/64"}]
`
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"container and VM with cloud-init", `containers:
  - {name: c, image: "oci-layout:/x", nics: [{vlan: 10, ipv6: {address: "fd00:10::5/64"}}]}
vms:
  - {name: v, cloud-init: {}, nics: [{vlan: 10, ipv6: {address: "fd00:10::6/64"}}]}
`, nil},
		{"IPv4 in ipv6", `containers:
  - {name: c, image: "oci-layout:/x", nics: [{vlan: 10, ipv6: {address: 10.0.10.5/24}}]}
`, []string{`6:73 containers[0].nics[0].ipv6.address: invalid address "10.0.10.5/24": use an IPv6 address here`}},
		{"the box's address", `containers:
  - {name: c, image: "oci-layout:/x", nics: [{vlan: 10, ipv6: {address: "fd00:10::1/64"}}]}
`, []string{`6:73 containers[0].nics[0].ipv6.address: address fd00:10::1 is also used by uplink.addresses[0].ipv6 (line 4)`}},
		{"VM without cloud-init", `vms:
  - {name: v, nics: [{vlan: 10, ipv6: {address: "fd00:10::6/64"}}]}
`, []string{`6:39 vms[0].nics[0].ipv6: a VM's static IPv6 address is set through cloud-init`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			matchProblems(t, problems(t, head+tc.body), tc.want)
		})
	}
}
