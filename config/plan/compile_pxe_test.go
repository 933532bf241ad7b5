package plan

import (
	"slices"
	"testing"

	"github.com/nucbox/nucbox/config"
)

// A boot server on an internal VLAN where another server leases the
// addresses: proxyDHCP, its ports opened on that VLAN only; with the
// box's own leases there, no proxy and no proxy ports.
func TestCompilePXE(t *testing.T) {
	src := func(dhcp string) string {
		return `
hostname: b
uplink:
  vlans: [30, 40]
  addresses:
    - {vlan: 30, address: 10.0.30.1/24` + dhcp + `}
    - {vlan: 40, address: 10.0.40.1/24}
pxe-server: {vlan: 30, configs: racks, bundle: pxe}
`
	}
	for _, tc := range []struct {
		name, dhcp string
		proxy      bool
		udp        []uint16
	}{
		{"proxyDHCP", "", true, []uint16{69, 67, 4011}},
		{"the box's leases", ", dhcp: {range: 10.0.30.100-10.0.30.199, on-uplink: true}", false, []uint16{53, 67, 69}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse("box.yaml", []byte(src(tc.dhcp)))
			if err != nil {
				t.Fatal(err)
			}
			p, err := Compile(c)
			if err != nil {
				t.Fatal(err)
			}
			s := p.Desired.PXE
			if s.VLAN != 30 || s.Interface != "vlan30" || s.Server.String() != "10.0.30.1/24" || s.ProxyDHCP != tc.proxy ||
				s.Configs != "/var/lib/nucbox/racks" || s.Bundle != "/var/lib/nucbox/pxe" {
				t.Errorf("spec %+v", s)
			}
			for _, seg := range p.Desired.Firewall.Segments {
				switch seg.Interface {
				case "vlan30":
					if !slices.Contains(seg.TCP, 80) || !slices.Contains(seg.TCP, 8444) || !slices.Equal(seg.UDP, tc.udp) {
						t.Errorf("vlan30 opens TCP %v UDP %v, want 80, 8444 and UDP %v", seg.TCP, seg.UDP, tc.udp)
					}
				case "vlan40":
					if len(seg.TCP) != 0 || len(seg.UDP) != 0 {
						t.Errorf("vlan40, no boot server there, opens TCP %v UDP %v", seg.TCP, seg.UDP)
					}
				}
			}
		})
	}
}
