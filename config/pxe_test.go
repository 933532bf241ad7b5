package config

import "testing"

// Each pxe-server check with its position, each beside the valid config
// it breaks, so that a check that never fires fails the valid row's
// twin and a check that always fires fails the valid row.
func TestPXEServerChecks(t *testing.T) {
	const static = `
hostname: b
uplink:
  ipv4: {address: 192.168.1.2/24, gateway: 192.168.1.1}
  vlans: [20, 30]
  addresses:
    - {vlan: 30, address: 10.0.30.1/24}
    - {vlan: 20, address: 10.0.20.1/24, dhcp: {range: 10.0.20.100-10.0.20.199, on-uplink: true}}
`
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{"valid: internal VLAN", static + "pxe-server: {vlan: 30, configs: racks}\n", nil},
		{"VLAN without a box address", static + "pxe-server: {vlan: 31, configs: racks}\n",
			[]string{"9:20 pxe-server.vlan: VLAN 31 has no box address to serve from: add {vlan: 31, address: ...} to uplink.addresses"}},
		{"valid: VLAN with the box's DHCP", static + "pxe-server: {vlan: 20, configs: racks}\n", nil},
		{"valid: lab network with opt-in", static + "pxe-server: {on-uplink: true, configs: /var/lib/nucbox/racks}\n", nil},
		{"lab network without opt-in", static + "pxe-server: {configs: racks}\n",
			[]string{"9:13 pxe-server: this serves network boots on the lab network (the uplink's native VLAN 1)"}},
		{"native VLAN by number without opt-in", static + "pxe-server: {vlan: 1, configs: racks}\n",
			[]string{"9:20 pxe-server.vlan: this serves network boots on the lab network"}},
		{"lab network with a DHCP uplink", `
hostname: b
pxe-server: {on-uplink: true, configs: racks}
`, []string{"3:25 pxe-server.on-uplink: serving network boots on the lab network needs a static uplink.ipv4 address"}},
		{"configs outside the data partition", static + "pxe-server: {vlan: 30, configs: /etc/racks}\n",
			[]string{`9:33 pxe-server.configs: "/etc/racks" is not on the data partition`}},
		{"configs climbing out", static + "pxe-server: {vlan: 30, configs: ../racks}\n",
			[]string{`9:33 pxe-server.configs: "../racks" is not on the data partition`}},
		{"configs missing", static + "pxe-server: {vlan: 30}\n",
			[]string{"9:13 pxe-server: configs is required"}},
		{"bundle outside the data partition", static + "pxe-server: {vlan: 30, configs: racks, bundle: /boot}\n",
			[]string{`9:48 pxe-server.bundle: "/boot" is not on the data partition`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			matchProblems(t, problems(t, tc.src), tc.want)
		})
	}
}

func TestPXESegmentOf(t *testing.T) {
	c, err := Parse("box.yaml", []byte(`
hostname: b
uplink:
  ipv4: {address: 192.168.1.2/24}
  probe: {disabled: true}
  vlans: [30]
  dhcp-server: {range: 192.168.1.100-192.168.1.199, on-uplink: true}
  addresses:
    - {vlan: 30, address: 10.0.30.1/24}
pxe-server: {on-uplink: true, configs: racks}
`))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := PXESegmentOf(c)
	if !ok || s.VLAN != 1 || s.Interface != "" || s.Server.String() != "192.168.1.2/24" || !s.DHCP {
		t.Errorf("lab network: %+v %v", s, ok)
	}
	c.PXEServer.VLAN = 30
	s, ok = PXESegmentOf(c)
	if !ok || s.VLAN != 30 || s.Interface != "vlan30" || s.Server.String() != "10.0.30.1/24" || s.DHCP {
		t.Errorf("VLAN 30 (proxyDHCP): %+v %v", s, ok)
	}
	for dir, want := range map[string]string{"racks": "/var/lib/nucbox/racks", "/var/lib/nucbox/a/b/": "/var/lib/nucbox/a/b", "/var/lib/nucbox": "", "/var/lib/nucboxes": "", "a/../../x": ""} {
		got, ok := DataPath(dir)
		if (want == "") == ok || (ok && got != want) {
			t.Errorf("DataPath(%q) = %q, %v; want %q", dir, got, ok, want)
		}
	}
}
