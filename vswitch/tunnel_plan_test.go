package vswitch

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// Tunnel ports in the pure plan: a new one is created down, gets its
// flood entries, joins the bridge in its access VLAN only and then comes
// up; two overlays on two VLANs are each in their own VLAN; a converged
// one needs nothing; a changed identity remakes it; a changed remote list
// is an FDB change.
func TestPlanTunnels(t *testing.T) {
	b, c := netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	d := filteringDesired()
	d.Ports = append(d.Ports,
		Port{Name: "vxlan30", Kind: KindVXLAN, Label: "overlay/30", VLAN: 30, MTU: 1450,
			Tunnel: &Tunnel{VNI: 1030, Remotes: []netip.Addr{b, c}, Port: 4789}},
		Port{Name: "gretap40", Kind: KindGretap, Label: "overlay/40", VLAN: 40, MTU: 1462,
			Tunnel: &Tunnel{Remotes: []netip.Addr{b}}})
	d = d.WithTunnelSource(netip.MustParseAddr("192.0.2.1"), "br0")
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(steps(t, d, converged()), "; ")
	want := "create-tunnel vxlan30; fdb-add vxlan30 00:00:00:00:00:00 dst 192.0.2.2; fdb-add vxlan30 00:00:00:00:00:00 dst 192.0.2.3; " +
		"set-master vxlan30 br0; vlan-add vxlan30 vid 30 pvid untagged; up vxlan30; " +
		"create-tunnel gretap40; set-master gretap40 br0; vlan-add gretap40 vid 40 pvid untagged; up gretap40"
	if got != want {
		t.Errorf("new tunnels:\n got %s\nwant %s", got, want)
	}

	o := converged()
	local := netip.MustParseAddr("192.0.2.1")
	o.links["vxlan30"] = obsLink{Name: "vxlan30", Kind: "vxlan", Up: true, Master: "br0", Alias: "nucbox:port:overlay/30", MTU: 1450,
		Tunnel: &Tunnel{VNI: 1030, Local: local, Port: 4789}, FloodTo: []netip.Addr{b, c}}
	o.links["gretap40"] = obsLink{Name: "gretap40", Kind: "gretap", Up: true, Master: "br0", Alias: "nucbox:port:overlay/40", MTU: 1462,
		Tunnel: &Tunnel{Local: local, Remotes: []netip.Addr{b}}}
	o.vlans["vxlan30"] = []VLAN{{ID: 30, PVID: true, Untagged: true}}
	o.vlans["gretap40"] = []VLAN{{ID: 40, PVID: true, Untagged: true}}
	if got := steps(t, d, o); len(got) != 0 {
		t.Errorf("converged tunnels: %q, want nothing", got)
	}

	// A VNI changed: made anew. A remote dropped: its entry goes.
	d2 := d
	d2.Ports = slices.Clone(d.Ports)
	x := *d2.Ports[2].Tunnel
	x.VNI = 1031
	d2.Ports[2].Tunnel = &x
	if got := strings.Join(steps(t, d2, o), "; "); !strings.HasPrefix(got, "delete vxlan30; create-tunnel vxlan30;") {
		t.Errorf("new VNI: %s", got)
	}
	x.VNI, x.Remotes = 1030, []netip.Addr{b}
	if got := strings.Join(steps(t, d2, o), "; "); got != "fdb-del vxlan30 00:00:00:00:00:00 dst 192.0.2.3" {
		t.Errorf("remote dropped: %s", got)
	}

	// A tunnel without its VLAN or with no far side is refused.
	bad := filteringDesired()
	bad.Ports = append(bad.Ports, Port{Name: "vxlan9", Kind: KindVXLAN, Label: "overlay/9", Tunnel: &Tunnel{VNI: 9, Port: 4789}})
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "needs remotes") || !strings.Contains(err.Error(), "access VLAN") {
		t.Errorf("bad tunnel: %v", err)
	}
}
