package plan

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/vswitch"
)

const overlayYAML = `
hostname: a
uplink:
  interface: {bond: [eno1, eno2], mode: balance-xor}
  addresses:
    - {vlan: 10, address: 10.0.10.1/24, dhcp: {range: 10.0.10.100-10.0.10.199}}
overlays:
  - {vlan: 10, vxlan: {vni: 1010, remotes: [192.168.1.21, 192.168.1.22]}}
  - {vlan: 20, gretap: {remote: 192.168.1.21}}
  - {vlan: 30, vxlan: {vni: 1030, group: 239.1.1.10}, mtu: 1500}
containers:
  - {name: c10, image: "busybox:1", nics: [{vlan: 10}, {vlan: 5}, {trunk: [20, 30]}]}
`

// Overlays compile to tunnel ports in their VLANs; workload ports on an
// overlay VLAN get its MTU (the smallest for a trunk), others keep the
// kernel's; the bond becomes the uplink; the modules come with them.
func TestCompileOverlaysAndBond(t *testing.T) {
	c, err := config.Parse("box.yaml", []byte(overlayYAML))
	if err != nil {
		t.Fatal(err)
	}
	d := compile(t, c)
	var tunnels []vswitch.Port
	mtus := map[string]int{}
	for _, p := range d.Switch.Ports {
		if p.Tunnel != nil {
			tunnels = append(tunnels, p)
		}
		mtus[p.Name] = p.MTU
	}
	if len(tunnels) != 3 {
		t.Fatalf("tunnel ports: %+v", tunnels)
	}
	vx, gt, mc := tunnels[0], tunnels[1], tunnels[2]
	if vx.Name != "vxlan10" || vx.Kind != vswitch.KindVXLAN || vx.VLAN != 10 || vx.MTU != 1450 || vx.Tunnel.VNI != 1010 || vx.Tunnel.Port != 4789 ||
		!slices.Equal(vx.Tunnel.Remotes, []netip.Addr{netip.MustParseAddr("192.168.1.21"), netip.MustParseAddr("192.168.1.22")}) {
		t.Errorf("vxlan10: %+v %+v", vx, vx.Tunnel)
	}
	if gt.Name != "gretap20" || gt.Kind != vswitch.KindGretap || gt.VLAN != 20 || gt.MTU != 1462 || len(gt.Tunnel.Remotes) != 1 {
		t.Errorf("gretap20: %+v %+v", gt, gt.Tunnel)
	}
	if mc.Name != "vxlan30" || mc.MTU != 1500 || mc.Tunnel.Group != netip.MustParseAddr("239.1.1.10") {
		t.Errorf("vxlan30: %+v %+v", mc, mc.Tunnel)
	}
	want := map[string]int{config.VethName("c10", 0): 1450, config.VethName("c10", 1): 0, config.VethName("c10", 2): 1462}
	for name, mtu := range want {
		if mtus[name] != mtu {
			t.Errorf("port %s MTU %d, want %d", name, mtus[name], mtu)
		}
	}
	if n := d.Containers[0].NICs[0].Port.MTU; n != 1450 {
		t.Errorf("the container's own port spec has MTU %d", n)
	}
	sel := d.Network.Uplink
	if sel.Name != "bond0" || sel.Bond == nil || sel.Bond.Mode != "balance-xor" || !slices.Equal(sel.Bond.Members, []string{"eno1", "eno2"}) {
		t.Errorf("uplink: %+v %+v", sel, sel.Bond)
	}
	if !slices.Equal(d.NetModules, []string{"vxlan", "ip_gre", "bonding"}) {
		t.Errorf("modules: %v", d.NetModules)
	}

	if len(d.DHCP.Scopes) != 1 || d.DHCP.Scopes[0].MTU != 1450 {
		t.Errorf("DHCP on the VXLAN's VLAN: %+v, want MTU 1450 sent", d.DHCP.Scopes)
	}

	var text strings.Builder
	p, _ := Compile(c)
	if err := p.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"overlay", "vxlan10", "192.168.1.21, 192.168.1.22 (head-end replication)", "gretap20", "239.1.1.10 (multicast)", "bond0", "balance-xor"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("plan text lacks %q:\n%s", s, text.String())
		}
	}
}
