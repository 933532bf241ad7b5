package vswitch_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/ci"
	"github.com/nucbox/nucbox/vswitch"
	"github.com/nucbox/nucbox/vswitch/netnstest"
	"github.com/vishvananda/netlink"
)

var (
	vmMAC = net.HardwareAddr{0x02, 0xaa, 0, 0, 0, 1}
	ctMAC = net.HardwareAddr{0x02, 0xbb, 0, 0, 0, 1}
)

func flatDesired() vswitch.Desired {
	return vswitch.Desired{
		Bridge: vswitch.Bridge{Name: "br0"},
		Ports: []vswitch.Port{
			{Name: "t-vm1-0", Kind: vswitch.KindTAP, Label: "vm/vm1/0", MAC: vmMAC},
			{Name: "v-ct1-0", Kind: vswitch.KindVeth, Label: "ct/ct1/0", MAC: ctMAC, Peer: "p-ct1-0"},
		},
	}
}

func open(t *testing.T, ns *netnstest.NS) *vswitch.Switch {
	t.Helper()
	sw, err := vswitch.Open(ns.Namespace(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sw.Close)
	return sw
}

// TAP and veth ports are created with their MACs, enslaved and up; a
// second Reconcile makes no netlink change; a removed port is deleted and
// links nucbox did not create are left alone.
func TestReconcilePorts(t *testing.T) {
	ns := netnstest.New(t, "sw")
	sw := open(t, ns)
	ctx := context.Background()

	// A link that is not nucbox's, even on the bridge later, stays.
	if err := ns.H.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "foreign0"}, PeerName: "foreign1"}); err != nil {
		t.Fatal(err)
	}

	st, err := sw.Reconcile(ctx, flatDesired())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first reconcile: %d changes: %s", st.Changes, strings.Join(st.Actions, "; "))
	br := ns.Link(t, "br0")
	if br.Attrs().Flags&net.FlagUp == 0 {
		t.Error("bridge not up")
	}
	tap := ns.Link(t, "t-vm1-0")
	if tt, ok := tap.(*netlink.Tuntap); !ok || tt.Mode != netlink.TUNTAP_MODE_TAP {
		t.Errorf("t-vm1-0 is %T %+v, want a TAP", tap, tap)
	}
	checkPort(t, tap, br, "fe:aa:00:00:00:01")
	veth := ns.Link(t, "v-ct1-0")
	checkPort(t, veth, br, "fe:bb:00:00:00:01")
	peer := ns.Link(t, "p-ct1-0")
	if got := peer.Attrs().HardwareAddr.String(); got != ctMAC.String() {
		t.Errorf("veth peer MAC = %s, want %s", got, ctMAC)
	}
	if peer.Attrs().MasterIndex != 0 {
		t.Error("veth peer joined the bridge")
	}
	if len(st.Ports) != 2 {
		t.Errorf("status ports = %+v", st.Ports)
	}

	// The same desired state again: nothing to do.
	st, err = sw.Reconcile(ctx, flatDesired())
	if err != nil {
		t.Fatal(err)
	}
	if st.Changes != 0 || len(st.Actions) != 0 {
		t.Errorf("second reconcile made %d changes: %q", st.Changes, st.Actions)
	}

	// Drift is repaired: a port taken off the bridge comes back.
	if err := ns.H.LinkSetNoMaster(tap); err != nil {
		t.Fatal(err)
	}
	st, err = sw.Reconcile(ctx, flatDesired())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"down t-vm1-0", "set-master t-vm1-0 br0", "up t-vm1-0"}; !slices.Equal(st.Actions, want) {
		t.Errorf("repair actions = %q, want %q", st.Actions, want)
	}

	// Removing the TAP from the config removes the link, nothing else.
	if err := ns.H.LinkSetMaster(ns.Link(t, "foreign0"), br); err != nil {
		t.Fatal(err)
	}
	d := flatDesired()
	d.Ports = d.Ports[1:]
	st, err = sw.Reconcile(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"delete t-vm1-0"}; !slices.Equal(st.Actions, want) {
		t.Errorf("actions = %q, want %q", st.Actions, want)
	}
	if _, err := ns.H.LinkByName("t-vm1-0"); err == nil {
		t.Error("removed TAP still exists")
	}
	if f := ns.Link(t, "foreign0"); f.Attrs().MasterIndex != br.Attrs().Index {
		t.Error("foreign link was taken off the bridge")
	}
	ns.Link(t, "v-ct1-0")
}

func checkPort(t *testing.T, l, br netlink.Link, mac string) {
	t.Helper()
	a := l.Attrs()
	if a.MasterIndex != br.Attrs().Index {
		t.Errorf("%s: master %d, want bridge %d", a.Name, a.MasterIndex, br.Attrs().Index)
	}
	if a.Flags&net.FlagUp == 0 {
		t.Errorf("%s: not up", a.Name)
	}
	if got := a.HardwareAddr.String(); got != mac {
		t.Errorf("%s: MAC %s, want %s", a.Name, got, mac)
	}
	if !vswitch.Owned(a.Alias) {
		t.Errorf("%s: alias %q does not mark it as nucbox's", a.Name, a.Alias)
	}
}

// A TAP outlives the process that made it (persistent) so QEMU can open
// it by name later.
func TestTAPIsPersistent(t *testing.T) {
	ns := netnstest.New(t, "tap")
	sw := open(t, ns)
	if _, err := sw.Reconcile(context.Background(), flatDesired()); err != nil {
		t.Fatal(err)
	}
	sw.Close()
	ns.Link(t, "t-vm1-0")
}

// With VLAN filtering the ports' VLAN tables must be exactly the config's,
// with no VLAN 1 left over. On a kernel without filtering Reconcile must
// say so and leave no half-made bridge.
func TestVLANFiltering(t *testing.T) {
	ns := netnstest.New(t, "vlan")
	netnstest.Veth(t, ns, "eth0", netnstest.New(t, "lan"), "lan0", true)
	sw := open(t, ns)
	d := vswitch.Desired{
		Bridge: vswitch.Bridge{Name: "br0", VLANFiltering: true, NativeVLAN: 1},
		Ports: []vswitch.Port{
			{Name: "eth0", Kind: vswitch.KindExternal, Label: "uplink", Trunk: []int{10, 20}, Native: 1},
			{Name: "t-vm1-0", Kind: vswitch.KindTAP, Label: "vm/vm1/0", MAC: vmMAC, VLAN: 10},
			{Name: "v-ct1-0", Kind: vswitch.KindVeth, Label: "ct/ct1/0", MAC: ctMAC, Peer: "p-ct1-0", Trunk: []int{20, 30}},
		},
	}
	st, err := sw.Reconcile(context.Background(), d)
	if errors.Is(err, vswitch.ErrNoVLANFiltering) {
		if _, lerr := ns.H.LinkByName("br0"); lerr == nil {
			t.Error("a bridge was left behind after the VLAN filtering error")
		}
		ci.HostLacks(t, "this kernel has no bridge VLAN filtering (%v); the QEMU tier covers it", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"br0":     "[1 pvid untagged]",
		"eth0":    "[1 pvid untagged 10 20]",
		"t-vm1-0": "[10 pvid untagged]",
		"v-ct1-0": "[20 30]",
	}
	if got := vlansOf(st.VLANs); got != want["br0"] {
		t.Errorf("bridge VLANs = %s, want %s", got, want["br0"])
	}
	for _, p := range st.Ports {
		if got := vlansOf(p.VLANs); got != want[p.Name] {
			t.Errorf("%s VLANs = %s, want %s", p.Name, got, want[p.Name])
		}
	}
	st, err = sw.Reconcile(context.Background(), d)
	if err != nil || st.Changes != 0 {
		t.Errorf("second reconcile: %d changes %q, err %v", st.Changes, st.Actions, err)
	}
}

func vlansOf(vs []vswitch.VLAN) string {
	ss := make([]string, len(vs))
	for i, v := range vs {
		ss[i] = v.String()
	}
	return "[" + strings.Join(ss, " ") + "]"
}

// A veth that goes away between the plan and an action on it (its
// container's namespace ended) makes Reconcile plan again from what is
// there, not fail: the port is made anew as asked for. The change here
// is the container's MAC; in a box it is as often its VLANs.
func TestReconcileLinkGoneMidway(t *testing.T) {
	ns := netnstest.New(t, "sw")
	sw := open(t, ns)
	ctx := context.Background()
	d := flatDesired()
	if _, err := sw.Reconcile(ctx, d); err != nil {
		t.Fatal(err)
	}

	newMAC := net.HardwareAddr{0x02, 0xbb, 0, 0, 0, 2}
	d.Ports[1].MAC = newMAC
	deleted := 0
	vswitch.BeforeExec(sw, func(act, link string) {
		if link == "v-ct1-0" && deleted == 0 {
			deleted++
			if err := ns.H.LinkDel(ns.Link(t, link)); err != nil {
				t.Fatal(err)
			}
			t.Logf("deleted %s before %q", link, act)
		}
	})
	st, err := sw.Reconcile(ctx, d)
	if deleted != 1 {
		t.Fatalf("the veth was deleted %d times before an action on it; the test proves nothing", deleted)
	}
	if err != nil {
		t.Fatalf("reconcile with the veth gone midway: %v", err)
	}
	t.Logf("actions: %s", strings.Join(st.Actions, "; "))
	if !slices.Contains(st.Actions, "create-veth v-ct1-0") {
		t.Errorf("actions %q: the veth was not made anew", st.Actions)
	}
	checkPort(t, ns.Link(t, "v-ct1-0"), ns.Link(t, "br0"), "fe:bb:00:00:00:02")
	if got := ns.Link(t, "p-ct1-0").Attrs().HardwareAddr.String(); got != newMAC.String() {
		t.Errorf("veth peer MAC = %s, want %s", got, newMAC)
	}
}

// Reconcile and a container's EnsurePort at once, as an apply and a
// restarting container: a Reconcile that starts while EnsurePort is about
// to make the container's veth waits for it, instead of making the same
// veth in between (EnsurePort then failed with "file exists") or seeing
// it before its alias marks it nucbox's.
func TestReconcileWaitsForEnsurePort(t *testing.T) {
	ns := netnstest.New(t, "sw")
	sw := open(t, ns)
	ctx := context.Background()
	d := flatDesired()
	if _, err := sw.Reconcile(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := ns.H.LinkDel(ns.Link(t, "v-ct1-0")); err != nil { // the container's run ended
		t.Fatal(err)
	}
	reconciled := make(chan error, 1)
	started := false
	vswitch.BeforeExec(sw, func(act, link string) {
		if act != "create-veth v-ct1-0" || started {
			return
		}
		started = true
		go func() {
			_, err := sw.Reconcile(ctx, d)
			reconciled <- err
		}()
		// Give the Reconcile the time to make the veth first, which it
		// does in milliseconds when nothing holds it back.
		select {
		case err := <-reconciled:
			reconciled <- err
			t.Errorf("a Reconcile ran to its end (%v) while EnsurePort was making a port", err)
		case <-time.After(time.Second):
		}
	})
	if _, err := sw.EnsurePort(ctx, d.Bridge, d.Ports[1]); err != nil {
		t.Errorf("EnsurePort with a Reconcile started meanwhile: %v", err)
	}
	if !started {
		t.Fatal("EnsurePort made no veth: the test proves nothing")
	}
	if err := <-reconciled; err != nil {
		t.Errorf("the Reconcile started meanwhile: %v", err)
	}
	checkPort(t, ns.Link(t, "v-ct1-0"), ns.Link(t, "br0"), "fe:bb:00:00:00:01")
}
