package config

import (
	"strings"
	"testing"
)

// policyBox is a box with two containers on VLAN 10 whose first NIC's
// policy each case fills in.
const policyBox = `
hostname: box
uplink: {vlans: [10]}
containers:
  - name: a
    image: oci-layout:/x
    nics:
      - vlan: 10
        ipv4: {address: 10.0.10.5/24}
        policy:
%s
  - name: b
    image: oci-layout:/x
    nics: [{vlan: 10}]
`

func TestPolicyChecks(t *testing.T) {
	for _, tc := range []struct {
		name, policy, sw string
		want             []string
	}{
		{"valid", `          rate: 100Mbit
          default: deny
          spoof-guard: false
          rules:
            - {action: allow, proto: tcp, port: 80, cidr: 10.0.10.0/24}
            - {action: deny, proto: udp, port: 53, direction: in}
            - {action: allow, proto: icmpv6, cidr: "fd00::1"}`, `
switch:
  vlans: [{vlan: 10, policy: {rate: 1.5Gbit}}]
  mirrors: [{from: [a.0], to: capture0}, {from: [b.0], to: capture0}]`, nil},
		{"rate without unit", `          rate: 100`, "", []string{
			`11:17 containers[0].nics[0].policy.rate: rate "100" has no unit: write it such as 100Mbit`}},
		{"rate with a byte unit", `          rate: 10MB`, "", []string{
			`11:17 containers[0].nics[0].policy.rate: invalid rate "10MB"`}},
		{"rate too low", `          rate: 10bit`, "", []string{
			`11:17 containers[0].nics[0].policy.rate: rate "10bit" is below 8Kbit`}},
		{"bad rule", `          default: maybe
          rules:
            - {proto: gre, port: 70000, cidr: 10.0.0.1/8, direction: sideways}
            - {action: drop, port: 22}`, "", []string{
			`11:20 containers[0].nics[0].policy.default: unknown default "maybe"`,
			`13:15 containers[0].nics[0].policy.rules[0].action: required: allow or deny`,
			`13:23 containers[0].nics[0].policy.rules[0].proto: unknown protocol "gre"`,
			`13:34 containers[0].nics[0].policy.rules[0].port: port 70000 out of range`,
			`13:47 containers[0].nics[0].policy.rules[0].cidr: cidr "10.0.0.1/8" has host bits set`,
			`13:70 containers[0].nics[0].policy.rules[0].direction: unknown direction "sideways"`,
			`14:24 containers[0].nics[0].policy.rules[1].action: unknown action "drop"`,
			`14:36 containers[0].nics[0].policy.rules[1].port: a port needs proto tcp or udp`}},
		{"icmp to an IPv6 prefix", `          rules: [{action: deny, proto: icmp, cidr: "fd00::/8"}]`, "", []string{
			`11:53 containers[0].nics[0].policy.rules[0].cidr: fd00::/8 is not of icmp's IP version`}},
		{"unknown field", `          ratelimit: 1Mbit`, "", []string{
			`11:11 containers[0].nics[0].policy.ratelimit: unknown field`}},
		{"vlan policy twice and out of range", `          rate: 1Mbit`, `
switch:
  vlans:
    - {vlan: 10, policy: {rate: 1Mbit}}
    - {vlan: 10, policy: {default: allow}}
    - {vlan: 5000, policy: {rate: "2"}}`, []string{
			`19:14 switch.vlans[1].vlan: VLAN 10 already has a policy at switch.vlans[0].vlan (line 18)`,
			`20:14 switch.vlans[2].vlan: VLAN id 5000 out of range`,
			`20:35 switch.vlans[2].policy.rate: rate "2" has no unit`}},
		{"mirrors", `          rate: 1Mbit`, `
switch:
  mirrors:
    - {from: [a.0, c.0, a.0], to: b.0}
    - {from: [b.0], to: a.0}
    - {from: [], to: "t-web-0"}
    - {from: [a.1], to: x.9}`, []string{
			`18:20 switch.mirrors[0].from[1]: no workload port "c.0"`,
			`18:25 switch.mirrors[0].from[2]: port a.0 is already mirrored by switch.mirrors[0].from[0] (line 18)`,
			`18:35 switch.mirrors[0].to: port b.0 is itself mirrored (switch.mirrors[1].from[0] (line 19))`,
			`19:25 switch.mirrors[1].to: port a.0 is itself mirrored (switch.mirrors[0].from[0] (line 18))`,
			`20:14 switch.mirrors[2].from: required`,
			`20:22 switch.mirrors[2].to: link name "t-web-0" is one the box uses`,
			`21:15 switch.mirrors[3].from[0]: no workload port "a.1"`,
			`21:25 switch.mirrors[3].to: no workload port "x.9"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(policyBox, "%s", tc.policy, 1) + tc.sw
			matchProblems(t, problems(t, src), tc.want)
		})
	}
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		err  string
	}{
		{"100Mbit", 100_000_000, ""},
		{"1.5Gbit", 1_500_000_000, ""},
		{"64kbit", 64_000, ""},
		{"8000bit", 8000, ""},
		{"100", 0, "has no unit"},
		{"100 Mbit", 0, "invalid rate"},
		{"100Mbps", 0, "invalid rate"},
		{"", 0, "invalid rate"},
	} {
		got, err := ParseRate(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseRate(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseRate(%q) = %d, %v; want an error with %q", tc.in, got, err, tc.err)
		}
	}
}
