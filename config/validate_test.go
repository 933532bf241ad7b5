package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// problems parses src as box.yaml and returns its errors as
// "LINE:COL PATH: MESSAGE", in the order reported.
func problems(t *testing.T, src string) []string {
	t.Helper()
	_, err := Parse("box.yaml", []byte(src))
	if err == nil {
		return nil
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, not ErrorList: %v", err, err)
	}
	var out []string
	for _, e := range list {
		if e.File != "box.yaml" {
			t.Errorf("error without file name: %v", e)
		}
		out = append(out, fmt.Sprintf("%d:%d %s: %s", e.Line, e.Column, e.Path, e.Message))
	}
	return out
}

// matchProblems checks that got holds exactly the wanted problems, in
// order; a want is the start of "LINE:COL PATH: MESSAGE", so it may leave
// out the end of the message.
func matchProblems(t *testing.T, got, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(got[i], want[i])
	}
	if !ok {
		t.Errorf("got problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// Each semantic check, with the exact position and path of its error.
func TestSemanticChecks(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{"hostname missing", `
uplink: {bridge: br0}
`, []string{"2:1 hostname: required"}},
		{"hostname invalid", `
hostname: Nuc_1
`, []string{`2:11 hostname: invalid host name "Nuc_1"`}},
		{"empty file", ``, []string{"1:1 hostname: required"}},
		{"duplicate workload across vms and containers", `
hostname: b
vms:
  - name: web
containers:
  - name: web
    image: nginx:1
`, []string{`6:11 containers[0].name: duplicate workload name "web": also used by vms[0].name (line 4)`}},
		{"workload name syntax", `
hostname: b
vms:
  - name: Web_1
`, []string{`4:11 vms[0].name: invalid name "Web_1"`}},
		{"workload name too long", `
hostname: b
vms:
  - name: a-name-that-is-thirty-three-chars
`, []string{`4:11 vms[0].name: invalid name`}},
		{"vm name missing is reported at the vm", `
hostname: b
vms:
  - cpus: 2
`, []string{"4:5 vms[0].name: required"}},
		{"container image missing is reported at the container", `
hostname: b
containers:
  - name: web
`, []string{"4:5 containers[0].image: required"}},
		{"vlan check setting and gateways", `
hostname: b
uplink:
  vlan-check: sometimes
  vlans: [10, 20]
  addresses:
    - {vlan: 10, address: 10.0.10.1/24, gateway: 10.0.11.1}
    - {vlan: 20, address: 10.0.20.1/24, gateway: router}
    - {vlan: 30, address: 10.0.30.1/24, gateway: 10.0.30.254}
    - {vlan: 40, address: 10.0.40.1/24, gateway: 10.0.40.1}
containers:
  - {name: c, image: "busybox:1", nics: [{vlan: 30}, {vlan: 40}]}
`, []string{
			`4:15 uplink.vlan-check: unknown VLAN check setting "sometimes": use on or off`,
			"7:50 uplink.addresses[0].gateway: gateway 10.0.11.1 is not another address in 10.0.10.0/24",
			`8:50 uplink.addresses[1].gateway: invalid gateway "router"`,
			"9:50 uplink.addresses[2].gateway: VLAN 30 is not one of uplink.vlans",
			"10:50 uplink.addresses[3].gateway: gateway 10.0.40.1 is not another address in 10.0.40.0/24",
		}},
		{"uplink vlan range", `
hostname: b
uplink:
  vlans: [10, 4095]
`, []string{"4:15 uplink.vlans[1]: VLAN id 4095 out of range"}},
		{"uplink vlans duplicate and native", `
hostname: b
uplink:
  native-vlan: 10
  vlans: [10, 20, 20]
`, []string{"5:11 uplink.vlans[0]: VLAN 10 is the uplink's native", "5:19 uplink.vlans[2]: VLAN 20 is already listed at uplink.vlans[1] (line 5)"}},
		{"explicit zero vlan", `
hostname: b
containers:
  - name: c
    image: busybox:1
    nics: [{vlan: 0}]
`, []string{"6:19 containers[0].nics[0].vlan: VLAN id must be between 1 and 4094"}},
		{"nic vlan range", `
hostname: b
containers:
  - name: c
    image: busybox:1
    nics:
      - vlan: 5000
`, []string{"7:15 containers[0].nics[0].vlan: VLAN id 5000 out of range"}},
		{"nic vlan and trunk", `
hostname: b
vms:
  - name: v
    nics:
      - vlan: 10
        trunk: [20, 30]
`, []string{"7:16 vms[0].nics[0].trunk: a NIC is either an access port"}},
		{"native without trunk", `
hostname: b
vms:
  - name: v
    nics:
      - native: 10
`, []string{"6:17 vms[0].nics[0].native: native is the untagged VLAN of a trunk: it needs trunk"}},
		{"native in trunk and trunk range", `
hostname: b
vms:
  - name: v
    nics:
      - {trunk: [10, 20, 0], native: 10}
`, []string{"6:18 vms[0].nics[0].trunk[0]: VLAN 10 is the trunk's native", "6:26 vms[0].nics[0].trunk[2]: VLAN id 0 out of range"}},
		{"mac syntax", `
hostname: b
vms:
  - name: v
    nics: [{mac: "52:54:00:zz:00:01"}]
`, []string{`5:18 vms[0].nics[0].mac: invalid MAC address "52:54:00:zz:00:01"`}},
		{"mac multicast", `
hostname: b
vms:
  - name: v
    nics: [{mac: "01:00:5e:00:00:01"}]
`, []string{"5:18 vms[0].nics[0].mac: MAC address 01:00:5e:00:00:01 is a multicast address"}},
		{"duplicate given macs, spelled differently", `
hostname: b
vms:
  - name: v
    nics: [{mac: "02:00:00:00:00:01"}]
containers:
  - name: c
    image: busybox:1
    nics: [{mac: "02-00-00-00-00-01"}]
`, []string{"9:18 containers[0].nics[0].mac: MAC address 02:00:00:00:00:01 is also used by vms[0].nics[0].mac (line 5)"}},
		{"given mac equal to a derived one", `
hostname: nuc1
vms:
  - name: ubuntu1
    nics: [{}]
  - name: other
    nics: [{mac: "ba:71:26:cf:6c:d4"}]
`, []string{"7:18 vms[1].nics[0].mac: MAC address ba:71:26:cf:6c:d4 is also used by vms[0].nics[0].mac"}},
		{"nic mac equal to the uplink mac", `
hostname: b
uplink: {mac: "02:00:00:00:00:09"}
vms:
  - name: v
    nics: [{mac: "02:00:00:00:00:09"}]
`, []string{"6:18 vms[0].nics[0].mac: MAC address 02:00:00:00:00:09 is also used by uplink.mac (line 3)"}},
		{"cidr syntax", `
hostname: b
uplink:
  ipv4: {address: 10.0.0.300/24, gateway: 10.0.0.1}
`, []string{`4:19 uplink.ipv4.address: invalid address "10.0.0.300/24"`}},
		{"cidr without prefix", `
hostname: b
uplink:
  ipv4:
    address: 10.0.0.5
    gateway: 10.0.0.1
`, []string{`5:14 uplink.ipv4.address: invalid address "10.0.0.5": missing prefix length, such as 10.0.0.5/24`}},
		{"network address", `
hostname: b
uplink:
  ipv4: {address: 10.0.0.0/24, gateway: 10.0.0.1}
`, []string{`4:19 uplink.ipv4.address: invalid address "10.0.0.0/24": that is the network address`}},
		{"ipv6 address", `
hostname: b
uplink:
  addresses: [{vlan: 10, address: "fd00::1/64"}]
  vlans: [10]
`, []string{`4:35 uplink.addresses[0].address: invalid address "fd00::1/64": only IPv4`}},
		{"gateway outside subnet", `
hostname: b
uplink:
  ipv4:
    address: 192.168.1.10/24
    gateway: 192.168.2.1
`, []string{"6:14 uplink.ipv4.gateway: gateway 192.168.2.1 is outside the subnet 192.168.1.0/24"}},
		{"gateway without address", `
hostname: b
uplink:
  ipv4: {gateway: 192.168.2.1}
`, []string{"4:9 uplink.ipv4.address: required"}},
		{"ipv4 as a bare cidr string", `
hostname: b
uplink:
  ipv4: 10.0.0.2/24
`, []string{`4:9 uplink.ipv4: invalid ipv4 "10.0.0.2/24": expected "dhcp" or a mapping {address: CIDR, gateway: IP}; for a static address write {address: 10.0.0.2/24}`}},
		{"duplicate ip across uplink, box vlan address and container", `
hostname: b
uplink:
  ipv4: {address: 10.0.0.2/24, gateway: 10.0.0.1}
  vlans: [10]
  addresses: [{vlan: 10, address: 10.0.0.2/16}]
containers:
  - name: c
    image: busybox:1
    nics: [{ipv4: {address: 10.0.0.2/24}}]
`, []string{
			"6:35 uplink.addresses[0].address: address 10.0.0.2 is also used by uplink.ipv4.address (line 4)",
			"10:29 containers[0].nics[0].ipv4.address: address 10.0.0.2 is also used by uplink.ipv4.address (line 4)",
		}},

		{"vnc range", `
hostname: b
vms:
  - {name: a, vnc: 100}
`, []string{"4:20 vms[0].vnc: VNC display 100 out of range"}},
		{"interface and mac", `
hostname: b
uplink:
  interface: eno1
  mac: 52:54:00:12:34:56
`, []string{"5:8 uplink.mac: give either uplink.interface or uplink.mac, not both"}},
		{"interface name", `
hostname: b
uplink:
  interface: "eth 0"
`, []string{`4:14 uplink.interface: invalid link name "eth 0"`}},
		{"bridge name too long", `
hostname: b
uplink:
  bridge: bridge-of-the-lab
`, []string{`4:11 uplink.bridge: invalid bridge name "bridge-of-the-lab": longer than 15 characters`}},
		{"bridge name reserved", `
hostname: b
uplink:
  bridge: vlan10
`, []string{`4:11 uplink.bridge: bridge name "vlan10" looks like a name nucbox gives its own links`}},
		{"PID 1's memory limit too small", `
hostname: b
reserve:
  pid1-memory: 8MiB
`, []string{"4:16 reserve.pid1-memory: PID 1's memory limit 8MiB is too small: use at least 16MiB"}},
		{"PID 1's memory limit above the reserve", `
hostname: b
reserve:
  memory: 128MiB
  pid1-memory: 256MiB
`, []string{"5:16 reserve.pid1-memory: PID 1's memory limit 256MiB is more than the reserve (reserve.memory 128MiB) it lives in"}},
		{"memory zero", `
hostname: b
vms:
  - name: v
    memory: 0
`, []string{"5:13 vms[0].memory: must be greater than 0"}},
		{"memory not whole MiB", `
hostname: b
vms:
  - name: v
    memory: 1000000
`, []string{"5:13 vms[0].memory: memory 1000000B is not a whole number of MiB"}},
		{"memory ambiguous unit", `
hostname: b
vms:
  - name: v
    memory: 2GB
`, []string{`5:13 vms[0].memory: invalid size "2GB": use a unit like MiB or GiB (did you mean 2GiB?)`}},
		{"cpus range", `
hostname: b
vms:
  - name: v
    cpus: 300
`, []string{"5:11 vms[0].cpus: cpus must be between 1 and 255, got 300"}},
		{"disk paths unique after resolving", `
hostname: b
state-dir: /data
vms:
  - name: a
    disks: [{path: a.qcow2}]
  - name: b
    disks: [{path: /data/a.qcow2}]
`, []string{"8:20 vms[1].disks[0].path: disk /data/a.qcow2 is also used by vms[0].disks[0].path (line 6)"}},
		{"disk path missing, raw with backing", `
hostname: b
vms:
  - name: a
    disks:
      - {format: raw, backing: base.img}
`, []string{"6:9 vms[0].disks[0].path: required", "6:32 vms[0].disks[0].backing: a backing image needs format qcow2"}},
		{"disk format", `
hostname: b
vms:
  - name: a
    disks: [{path: a.img, format: vmdk}]
`, []string{`5:35 vms[0].disks[0].format: invalid disk format "vmdk"`}},
		{"initrd without kernel", `
hostname: b
vms:
  - name: a
    initrd: /boot/initrd.img
`, []string{"5:13 vms[0].initrd: initrd needs kernel"}},
		{"accel and boot", `
hostname: b
vms:
  - name: a
    accel: hvf
    boot: cx
`, []string{`5:12 vms[0].accel: invalid accel "hvf"`, `6:11 vms[0].boot: invalid boot order "cx"`}},
		{"static vm address needs cloud-init", `
hostname: b
vms:
  - name: a
    nics: [{ipv4: {address: 10.0.0.5/24}}]
`, []string{"5:19 vms[0].nics[0].ipv4: a VM's static address is set through cloud-init"}},
		{"trunk address without native", `
hostname: b
containers:
  - name: c
    image: busybox:1
    nics: [{trunk: [10], ipv4: dhcp}]
`, []string{"6:32 containers[0].nics[0].ipv4: a trunk without a native VLAN carries no untagged traffic"}},
		{"image reference", `
hostname: b
containers:
  - name: c
    image: Busybox:latest
`, []string{`5:12 containers[0].image: invalid image reference "Busybox:latest"`}},
		{"volumes", `
hostname: b
containers:
  - name: c
    image: busybox:1
    volumes:
      - {source: data, target: data}
      - {source: ../etc, target: /data}
      - {source: x, target: /data/}
`, []string{
			`7:32 containers[0].volumes[0].target: target "data" must be an absolute path`,
			`8:18 containers[0].volumes[1].source: source "../etc" leaves the state directory`,
			"9:29 containers[0].volumes[2].target: target /data is also mounted by containers[0].volumes[1].target (line 8)",
		}},
		{"restart policy", `
hostname: b
containers:
  - name: c
    image: busybox:1
    restart: sometimes
`, []string{`6:14 containers[0].restart: invalid restart policy "sometimes": use always, on-failure or never`}},
		{"container limits", `
hostname: b
containers:
  - name: c
    image: busybox:1
    memory: 512
    cpus: .nan
    workdir: srv
`, []string{
			"6:13 containers[0].memory: memory limit 512B is too small",
			"7:11 containers[0].cpus: expected a finite number, got the number .nan",
			`8:14 containers[0].workdir: workdir "srv" must be an absolute path`,
		}},
		{"env name", `
hostname: b
containers:
  - name: c
    image: busybox:1
    env: {"A=B": x}
`, []string{`6:18 containers[0].env["A=B"]: invalid environment variable name "A=B"`}},
		{"box address on a vlan nobody carries", `
hostname: b
uplink:
  vlans: [10]
  addresses:
    - {vlan: 10, address: 10.0.10.1/24}
    - {vlan: 30, address: 10.0.30.1/24}
`, []string{"7:14 uplink.addresses[1].vlan: VLAN 30 is not carried by the uplink (uplink.vlans), an overlay nor used by any workload NIC"}},
		{"box address on a workload-only vlan is fine, on the native vlan not", `
hostname: b
uplink:
  addresses:
    - {vlan: 30, address: 10.0.30.1/24}
    - {vlan: 1, address: 10.0.1.1/24}
containers:
  - {name: c, image: "busybox:1", nics: [{vlan: 30}]}
`, []string{"6:14 uplink.addresses[1].vlan: VLAN 1 is the uplink's native VLAN"}},
		{"masqueraded subnets overlapping the uplink or each other", `
hostname: b
uplink:
  ipv4: {address: 10.0.0.2/16, gateway: 10.0.0.1}
  vlans: [10, 20, 30]
  addresses:
    - {vlan: 10, address: 10.0.10.1/24, nat: true}
    - {vlan: 20, address: 10.1.10.1/16, nat: true}
    - {vlan: 30, address: 10.1.20.1/24, nat: true}
`, []string{
			"7:46 uplink.addresses[0].nat: subnet 10.0.10.0/24 overlaps the uplink's subnet 10.0.0.0/16",
			"9:46 uplink.addresses[2].nat: subnet 10.1.20.0/24 overlaps 10.1.0.0/16, also masqueraded at uplink.addresses[1]",
		}},
		{"static uplink without gateway has nothing to probe", `
hostname: b
uplink:
  ipv4: {address: 10.0.0.2/24}
`, []string{"4:3 uplink.probe: nothing to probe"}},
		{"registry credentials", `
hostname: b
registries:
  - host: ghcr.io
    username: me
  - host: "https://ghcr.io"
`, []string{"4:5 registries[0]: give both username and password", `6:11 registries[1].host: invalid registry host "https://ghcr.io"`}},
		{"duplicate registry after normalising", `
hostname: b
registries:
  - host: docker.io
  - host: index.docker.io
`, []string{"5:11 registries[1].host: registry index.docker.io already has credentials at registries[0].host (line 4)"}},
		{"api", `
hostname: b
api:
  listen: 8443
  token: short
`, []string{"4:11 api.listen: expected a string, got the number 8443", "5:10 api.token: the token must be at least 16 characters"}},
		{"api listen syntax", `
hostname: b
api:
  listen: "localhost:8443"
`, []string{`4:11 api.listen: invalid listen address "localhost:8443": the host part must be an IP address`}},
		{"web sessions", `
hostname: b
api:
  session-lifetime: 30s
  session-idle: 1m
`, []string{"4:21 api.session-lifetime: 30s is too short for a web login: use at least 1m0s"}},
		{"web session idle beyond the default lifetime", `
hostname: b
api:
  session-idle: 13h
`, []string{"4:17 api.session-idle: an idle limit of 13h0m0s is longer than the session lifetime 12h0m0s"}},
		{"state dir", `
hostname: b
state-dir: data
`, []string{`3:12 state-dir: state-dir "data" must be an absolute directory`}},
		{"modules", `
hostname: b
modules: [dummy, dummy, "x/y"]
`, []string{`3:18 modules[1]: module "dummy" is already listed at modules[0] (line 3)`, `3:25 modules[2]: invalid kernel module name "x/y"`}},
		{"durations", `
hostname: b
uplink:
  carrier-timeout: 30
  probe: {timeout: 0s}
`, []string{`4:20 uplink.carrier-timeout: invalid duration "30": add a unit, like 30s`, "5:20 uplink.probe.timeout: must be greater than 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			matchProblems(t, problems(t, tc.src), tc.want)
		})
	}
}
