package vswitch_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/ci"
	"github.com/nucbox/nucbox/vswitch"
	"github.com/nucbox/nucbox/vswitch/netnstest"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// overlayBox is one side of the overlay test: a box namespace whose
// bridge has a VXLAN port to the other box and a container's veth, whose
// end is in a workload namespace of its own.
type overlayBox struct {
	ns   *netnstest.NS
	sw   *vswitch.Switch
	d    vswitch.Desired
	work *netnstest.NS
}

// newOverlayBox makes box side ("a" or "b") whose uplink address is
// local, with a VXLAN of vni to remote. The bridge does not filter VLANs
// (host kernels may lack it): the QEMU tier checks that overlays on two
// VLANs of one bridge stay apart.
func newOverlayBox(t *testing.T, side string, local, remote netip.Addr, vni int) *overlayBox {
	b := &overlayBox{ns: netnstest.New(t, "ov"+side)}
	b.sw = open(t, b.ns)
	b.d = vswitch.Desired{Bridge: vswitch.Bridge{Name: "br0"}, Ports: []vswitch.Port{
		{Name: "vxlan10", Kind: vswitch.KindVXLAN, Label: "overlay/10", MTU: 1450,
			Tunnel: &vswitch.Tunnel{VNI: vni, Remotes: []netip.Addr{remote}, Port: 4789}},
		{Name: "v-" + side, Kind: vswitch.KindVeth, Label: "ct/" + side + "/0", MAC: net.HardwareAddr{0x02, side[0], 0, 0, 0, 10},
			Peer: "p-" + side, MTU: 1450},
	}}
	b.d = b.d.WithTunnelSource(local, "up0")
	return b
}

func (b *overlayBox) reconcile(t *testing.T, d vswitch.Desired) vswitch.Status {
	t.Helper()
	st, err := b.sw.Reconcile(context.Background(), d)
	if errors.Is(err, vswitch.ErrNoTunnel) {
		ci.HostLacks(t, "VXLAN: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	b.d = d
	return st
}

// wire moves the workload end into a namespace of its own.
func (b *overlayBox) wire(t *testing.T, side, addr string) {
	t.Helper()
	b.work = netnstest.New(t, "w"+side)
	peer := b.ns.Link(t, "p-"+side)
	if err := b.ns.H.LinkSetNsFd(peer, int(b.work.Namespace().Handle())); err != nil {
		t.Fatal(err)
	}
	b.work.AddAddr(t, "p-"+side, addr)
	b.work.Up(t, "p-"+side)
}

func withVNI(d vswitch.Desired, vni int, remotes ...netip.Addr) vswitch.Desired {
	d.Ports = slices.Clone(d.Ports)
	tn := *d.Ports[0].Tunnel
	tn.VNI = vni
	if remotes != nil {
		tn.Remotes = remotes
	}
	d.Ports[0].Tunnel = &tn
	return d
}

// Two boxes joined by one veth, the underlay: a workload on each side
// pings the other through a VXLAN (the positive control), and cannot once
// the two ends use different VNIs, and can again when they agree. Status
// shows the tunnel's remote and the MAC learned behind it; a second
// Reconcile changes nothing, a new VNI remakes the tunnel, and a new
// remote is an FDB change in place.
func TestVXLANOverlay(t *testing.T) {
	la, lb := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	a := newOverlayBox(t, "a", la, lb, 1010)
	b := newOverlayBox(t, "b", lb, la, 1010)
	netnstest.Veth(t, a.ns, "up0", b.ns, "up0", true)
	a.ns.Up(t, "up0")
	a.ns.AddAddr(t, "up0", "192.0.2.1/24")
	b.ns.AddAddr(t, "up0", "192.0.2.2/24")
	t.Logf("a: %s", strings.Join(a.reconcile(t, a.d).Actions, "; "))
	b.reconcile(t, b.d)
	a.wire(t, "a", "10.99.0.1/24")
	b.wire(t, "b", "10.99.0.2/24")

	vx := a.ns.Link(t, "vxlan10")
	if v, ok := vx.(*netlink.Vxlan); !ok || v.VxlanId != 1010 || !v.SrcAddr.Equal(la.AsSlice()) || v.Port != 4789 || v.MTU != 1450 || !v.Learning {
		t.Errorf("vxlan10 = %+v", vx)
	}
	if mtu := a.work.Link(t, "p-a").Attrs().MTU; mtu != 1450 {
		t.Errorf("workload MTU %d, want 1450", mtu)
	}

	if !ping4(t, a.work, "10.99.0.2") {
		t.Fatal("the workload on box a cannot ping the one on box b over VXLAN 1010")
	}
	ts, err := a.sw.Tunnels(a.d)
	if err != nil {
		t.Fatal(err)
	}
	wantMAC := net.HardwareAddr{0x02, 'b', 0, 0, 0, 10}.String()
	if len(ts) != 1 {
		t.Fatalf("tunnels = %+v", ts)
	}
	t10 := ts[0]
	learned := slices.IndexFunc(t10.Learned, func(l vswitch.LearnedMAC) bool { return l.MAC == wantMAC })
	if t10.Name != "vxlan10" || t10.VNI != 1010 || !slices.Equal(t10.Remotes, []netip.Addr{lb}) || t10.Local != la || learned < 0 {
		t.Errorf("vxlan10 status = %+v, want remote %s and learned %s", t10, lb, wantMAC)
	} else if t10.Learned[learned].Remote != lb {
		t.Errorf("learned %s behind %s, want %s", wantMAC, t10.Learned[learned].Remote, lb)
	}
	if st := a.reconcile(t, a.d); st.Changes != 0 {
		t.Errorf("second reconcile: %d changes: %s", st.Changes, strings.Join(st.Actions, "; "))
	}

	// Another VNI on one side: the tunnel is made anew, and the two
	// overlays no longer meet.
	st := b.reconcile(t, withVNI(b.d, 1020))
	if acts := strings.Join(st.Actions, "; "); !strings.Contains(acts, "delete vxlan10") || !strings.Contains(acts, "create-tunnel vxlan10") {
		t.Errorf("new VNI: %s", acts)
	}
	if ping4(t, a.work, "10.99.0.2") {
		t.Error("VNI 1010 on box a reached VNI 1020 on box b")
	}
	b.reconcile(t, withVNI(b.d, 1010))
	if !ping4(t, a.work, "10.99.0.2") {
		t.Error("the VNIs agree again, but the ping does not get through")
	}

	// Another remote is added to the flood list in place.
	extra := netip.MustParseAddr("192.0.2.9")
	st = a.reconcile(t, withVNI(a.d, 1010, lb, extra))
	if acts := strings.Join(st.Actions, "; "); acts != "fdb-add vxlan10 00:00:00:00:00:00 dst 192.0.2.9" {
		t.Errorf("adding a remote: %s", acts)
	}
	if ts, _ := a.sw.Tunnels(a.d); len(ts) == 0 || !slices.Equal(ts[0].Remotes, []netip.Addr{lb, extra}) {
		t.Errorf("remotes after the change: %+v", ts)
	}
	if !ping4(t, a.work, "10.99.0.2") {
		t.Error("the overlay lost its way after the new remote")
	}
}

// ping4 sends ICMP echo requests from n to dst and tells whether an
// answer came back.
func ping4(t *testing.T, n *netnstest.NS, dst string) bool {
	t.Helper()
	a := netip.MustParseAddr(dst)
	var c *icmp.PacketConn
	if err := n.Namespace().Do(func() (err error) {
		c, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := os.Getpid() & 0xffff
	buf := make([]byte, 1500)
	for seq := range 4 {
		b, err := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("overlay")}}).Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.WriteTo(b, &net.IPAddr{IP: a.AsSlice()}); err != nil {
			return false
		}
		deadline := time.Now().Add(500 * time.Millisecond)
		_ = c.SetReadDeadline(deadline)
		for time.Now().Before(deadline) {
			k, from, err := c.ReadFrom(buf)
			if err != nil {
				break
			}
			m, err := icmp.ParseMessage(1, buf[:k])
			if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
				continue
			}
			if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && from.(*net.IPAddr).IP.Equal(a.AsSlice()) {
				return true
			}
		}
	}
	return false
}

// The multicast form: both boxes join 239.1.1.10 on their underlay link
// and reach each other with no remote listed; a box in another group is
// the negative, and joining the same group again the positive control.
func TestVXLANMulticastGroup(t *testing.T) {
	la, lb := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	group := netip.MustParseAddr("239.1.1.10")
	mcast := func(b *overlayBox, local netip.Addr, g netip.Addr) vswitch.Desired {
		d := b.d
		d.Ports = slices.Clone(d.Ports)
		d.Ports[0].Tunnel = &vswitch.Tunnel{VNI: 1010, Group: g, Port: 4789}
		return d.WithTunnelSource(local, "up0")
	}
	a := newOverlayBox(t, "a", la, lb, 1010)
	b := newOverlayBox(t, "b", lb, la, 1010)
	netnstest.Veth(t, a.ns, "up0", b.ns, "up0", true)
	a.ns.Up(t, "up0")
	a.ns.AddAddr(t, "up0", "192.0.2.1/24")
	b.ns.AddAddr(t, "up0", "192.0.2.2/24")
	a.reconcile(t, mcast(a, la, group))
	b.reconcile(t, mcast(b, lb, netip.MustParseAddr("239.1.1.11")))
	a.wire(t, "a", "10.99.0.1/24")
	b.wire(t, "b", "10.99.0.2/24")
	if v, ok := a.ns.Link(t, "vxlan10").(*netlink.Vxlan); !ok || !v.Group.Equal(group.AsSlice()) || v.VtepDevIndex != a.ns.Link(t, "up0").Attrs().Index {
		t.Errorf("vxlan10 = %+v, want group %s on up0", a.ns.Link(t, "vxlan10"), group)
	}
	if ping4(t, a.work, "10.99.0.2") {
		t.Error("group 239.1.1.10 reached a box in group 239.1.1.11")
	}
	b.reconcile(t, mcast(b, lb, group))
	if !ping4(t, a.work, "10.99.0.2") {
		t.Fatal("the two boxes in group 239.1.1.10 cannot ping each other")
	}
	ts, err := a.sw.Tunnels(a.d)
	if err != nil || len(ts) != 1 || ts[0].Group != group || len(ts[0].Remotes) != 0 {
		t.Errorf("status: %+v, %v", ts, err)
	}
}
