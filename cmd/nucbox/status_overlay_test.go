package main

import (
	"net/netip"
	"testing"

	"github.com/nucbox/nucbox/vswitch"
)

// The status lines of the bond and the tunnels, as the QEMU test reads
// them.
func TestBondAndOverlayLines(t *testing.T) {
	b := vswitch.BondStatus{Name: "bond0", Mode: "active-backup", Active: "eth1", Members: []vswitch.MemberStatus{
		{Name: "eth0", State: "BACKUP", LinkFailures: 1},
		{Name: "eth1", Carrier: true, State: "ACTIVE"},
	}}
	if got, want := bondLine(b), "bond0 active-backup, active eth1; eth0 no carrier backup (1 failures), eth1 carrier active"; got != want {
		t.Errorf("bond line\n got %s\nwant %s", got, want)
	}
	if got := bondLine(vswitch.BondStatus{Name: "bond0", Mode: "802.3ad"}); got != "bond0 802.3ad, active none; " {
		t.Errorf("bond without members: %q", got)
	}
	r := netip.MustParseAddr("192.168.1.21")
	tn := vswitch.TunnelStatus{Name: "vxlan10", VLAN: 10, VNI: 1010, Remotes: []netip.Addr{r}, MTU: 1450, Up: true,
		Learned: []vswitch.LearnedMAC{{MAC: "02:00:00:00:02:10", Remote: r}, {MAC: "02:00:00:00:02:11"}}}
	if got, want := overlayLine(tn), "vxlan10 VLAN 10 VNI 1010 to 192.168.1.21, MTU 1450; learned 02:00:00:00:02:10 via 192.168.1.21, 02:00:00:00:02:11"; got != want {
		t.Errorf("overlay line\n got %s\nwant %s", got, want)
	}
	g := vswitch.TunnelStatus{Name: "vxlan20", VLAN: 20, VNI: 7, Group: netip.MustParseAddr("239.1.1.10"), MTU: 1450}
	if got, want := overlayLine(g), "vxlan20 VLAN 20 VNI 7 to group 239.1.1.10, MTU 1450, DOWN"; got != want {
		t.Errorf("multicast overlay line\n got %s\nwant %s", got, want)
	}
}
