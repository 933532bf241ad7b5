package config

import (
	"encoding/json"
	"testing"

	"github.com/goccy/go-yaml"
)

// The uplink's IPv6: the modes and a static address parse (the positive
// controls); bad ones get errors at their line and column naming the
// field.
func TestUplinkIPv6(t *testing.T) {
	const head = `
hostname: b
uplink:
`
	const tail = `  addresses: [{vlan: 10, address: 10.0.10.1/24, ipv6: "fd00:10::1/64"}]
containers:
  - {name: c, image: "oci-layout:/x", nics: [{vlan: 10}]}
`
	for _, tc := range []struct {
		name, ipv6 string
		want       []string
	}{
		{"slaac", `  ipv6: slaac`, nil},
		{"dhcp", `  ipv6: dhcp`, nil},
		{"off", `  ipv6: "off"`, nil},
		{"static, link-local gateway", `  ipv6: {address: "2001:db8::10/64", gateway: "fe80::1"}`, nil},
		{"static, gateway in the prefix", `  ipv6: {address: "2001:db8::10/64", gateway: "2001:db8::1"}`, nil},
		{"static without gateway", `  ipv6: {address: "2001:db8::10/64"}`, nil},
		{"unknown mode", `  ipv6: auto`, []string{`4:9 uplink.ipv6: invalid ipv6 "auto": expected "slaac", "dhcp", "off" or a mapping`}},
		{"CIDR as a string", `  ipv6: "2001:db8::10/64"`, []string{`4:9 uplink.ipv6: invalid ipv6 "2001:db8::10/64": expected "slaac", "dhcp", "off" or a mapping {address: CIDR, gateway: IP}; for a static address write {address: 2001:db8::10/64}`}},
		{"dhcp with a static address", `  ipv6: {dhcp: true, address: "2001:db8::10/64"}`, []string{`4:10 uplink.ipv6.dhcp: dhcp and a static address exclude each other`}},
		{"no address", `  ipv6: {gateway: "fe80::1"}`, []string{`4:9 uplink.ipv6.address: required: an IPv6 address with prefix length`}},
		{"IPv4 address", `  ipv6: {address: 192.168.1.10/24}`, []string{`4:19 uplink.ipv6.address: invalid address "192.168.1.10/24": use an IPv6 address here (the IPv4 one goes in uplink.ipv4)`}},
		{"gateway outside the prefix", `  ipv6: {address: "2001:db8::10/64", gateway: "2001:db9::1"}`, []string{`4:47 uplink.ipv6.gateway: gateway 2001:db9::1 is outside the prefix 2001:db8::/64 of the address`}},
		{"gateway is the address", `  ipv6: {address: "2001:db8::10/64", gateway: "2001:db8::10"}`, []string{`4:47 uplink.ipv6.gateway: gateway 2001:db8::10 is the address itself`}},
		{"IPv4 gateway", `  ipv6: {address: "2001:db8::10/64", gateway: 192.168.1.1}`, []string{`4:47 uplink.ipv6.gateway: invalid gateway "192.168.1.1": use an IPv6 address`}},
		{"overlaps a VLAN", `  ipv6: {address: "fd00:10::10/64"}`, []string{`4:19 uplink.ipv6.address: prefix fd00:10::/64 overlaps fd00:10::/64 of uplink.addresses[0].ipv6 (line 5)`}},
		{"a VLAN's address", `  ipv6: {address: "fd00:10::1/120"}`, []string{`4:19 uplink.ipv6.address: address fd00:10::1 is also used by uplink.addresses[0].ipv6`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			matchProblems(t, problems(t, head+tc.ipv6+"\n"+tail), tc.want)
		})
	}
	c, err := Parse("box.yaml", []byte(head+`  ipv6: {address: "2001:db8::10/64", gateway: "fe80::1"}`+"\n"+tail))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Uplink.IPv6.String(); got != "2001:db8::10/64 via fe80::1" {
		t.Errorf("static: %q", got)
	}
	// Both encodings read what they write.
	for _, v := range []UplinkIPv6{{Mode: IPv6DHCP}, c.Uplink.IPv6} {
		j, err := json.Marshal(v)
		var back UplinkIPv6
		if err != nil || json.Unmarshal(j, &back) != nil || back != v {
			t.Errorf("JSON %s read back as %+v (%v)", j, back, err)
		}
		y, err := yaml.Marshal(v)
		back = UplinkIPv6{}
		if err != nil || yaml.Unmarshal(y, &back) != nil || back != v {
			t.Errorf("YAML %s read back as %+v (%v)", y, back, err)
		}
	}
	d, err := Parse("box.yaml", []byte(head+tail))
	if err != nil || d.Uplink.IPv6 != (UplinkIPv6{Mode: IPv6SLAAC}) {
		t.Errorf("default: %+v %v, want slaac", d.Uplink.IPv6, err)
	}
}

// A VLAN with only an IPv6 box address is valid (the positive control);
// what needs IPv4 on it is refused with the field's position.
func TestIPv6OnlyVLAN(t *testing.T) {
	const head = `
hostname: b
uplink:
  addresses:
`
	const ct = `containers:
  - {name: c, image: "oci-layout:/x", nics: [{vlan: 10}]}
`
	for _, tc := range []struct {
		name, addr string
		want       []string
	}{
		{"IPv6 only", `    - {vlan: 10, ipv6: "fd00:10::1/64"}`, nil},
		{"IPv6 only with NAT66", `    - {vlan: 10, ipv6: "fd00:10::1/64", nat: true}`, nil},
		{"neither", `    - {vlan: 10}`, []string{`5:7 uplink.addresses[0].address: required: an address with prefix length such as 10.0.10.1/24 (or only ipv6 for an IPv6-only VLAN)`}},
		{"DHCP without IPv4", `    - {vlan: 10, ipv6: "fd00:10::1/64", dhcp: {range: 10.0.10.100-10.0.10.199}}`, []string{`5:47 uplink.addresses[0].dhcp: the DHCP server hands out IPv4 addresses and this VLAN has none`}},
		{"time.serve on IPv6 only", `    - {vlan: 10, ipv6: "fd00:10::1/64"}
time: {serve: true}`, nil},
		{"time.serve on a carried VLAN only", `    - {vlan: 10, ipv6: "fd00:10::1/64"}
  vlans: [10]
time: {serve: true}`, []string{`7:15 time.serve: the box serves NTP on its internal VLAN addresses, and has none`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			matchProblems(t, problems(t, head+tc.addr+"\n"+ct), tc.want)
		})
	}
}
