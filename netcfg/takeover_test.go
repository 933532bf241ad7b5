package netcfg

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/vswitch"
)

// The bridge takes the uplink over keeping its MAC and address, the box
// stays reachable, and a second Apply changes nothing.
func TestStaticTakeover(t *testing.T) {
	l := newLab(t)
	m := l.manager(t)
	eth0MAC := l.box.Link(t, "eth0").Attrs().HardwareAddr.String()

	st, err := m.Apply(context.Background(), staticSpec())
	if err != nil {
		t.Fatal(err)
	}
	br, eth0 := l.box.Link(t, "br0"), l.box.Link(t, "eth0")
	if got := br.Attrs().HardwareAddr.String(); got != eth0MAC {
		t.Errorf("bridge MAC %s, want the uplink's %s", got, eth0MAC)
	}
	if eth0.Attrs().MasterIndex != br.Attrs().Index {
		t.Error("eth0 is not a port of br0")
	}
	if got := l.box.Addrs(t, "br0"); len(got) != 1 || got[0].String() != boxAddr {
		t.Errorf("br0 addresses %v, want %s", got, boxAddr)
	}
	if got := l.box.Addrs(t, "eth0"); len(got) != 0 {
		t.Errorf("eth0 still has %v", got)
	}
	if got := l.defaultVia(t, "br0"); got != gateway {
		t.Errorf("default route via %q on br0, want %s", got, gateway)
	}
	if st.Link != "br0" || st.Bridge != "br0" || st.Uplink != "eth0" || st.Gateway.String() != gateway {
		t.Errorf("status %+v", st)
	}
	if st.Takeover == nil || st.Probe == nil || !st.Probe.OK || st.Takeover.Outage <= 0 {
		t.Fatalf("takeover %+v probe %+v", st.Takeover, st.Probe)
	}
	t.Logf("takeover: addresses moved in %v, outage (enslave to first ARP reply) %v, probe attempts %d",
		st.Takeover.Moved, st.Takeover.Outage, st.Probe.Attempts)
	if st.Takeover.Outage > time.Second {
		t.Errorf("outage %v: the bridge did not forward at once", st.Takeover.Outage)
	}
	if !l.reachableFromLAN(t, "10.99.0.5") {
		t.Error("the box does not answer ARP from the LAN through the bridge")
	}
	if b, err := os.ReadFile(l.resolv); err != nil || !strings.Contains(string(b), "nameserver "+gateway) {
		t.Errorf("resolv.conf: %q %v", b, err)
	}

	st, err = m.Apply(context.Background(), staticSpec())
	if err != nil {
		t.Fatal(err)
	}
	if st.Changes != 0 {
		t.Errorf("second Apply made %d netlink changes", st.Changes)
	}

	// A probe target behind the gateway: ARP to the gateway, then ICMP.
	l.lan.AddAddr(t, "lan0", "10.98.0.1/32")
	r := m.probe(context.Background(), "br0", netip.MustParseAddr("10.98.0.1"), 2*time.Second)
	if !r.OK || r.Method != "arp+icmp" || r.NextHop.String() != gateway {
		t.Errorf("probe behind the gateway: %+v", r)
	}
}

// A probe that cannot succeed after the move puts the address back on the
// uplink and takes the uplink off the bridge.
func TestTakeoverRollsBack(t *testing.T) {
	l := newLab(t)
	m := l.manager(t)
	spec := staticSpec()
	spec.Probe = Probe{Target: netip.MustParseAddr("10.99.0.77"), Timeout: 500 * time.Millisecond}
	st, err := m.Apply(context.Background(), spec)
	if !errors.Is(err, ErrRolledBack) {
		t.Fatalf("Apply: %v, want a rollback", err)
	}
	t.Logf("Apply: %v", err)
	if st.Rollback == nil || st.Rollback.Restored != "eth0" || !st.Rollback.Reachable {
		t.Errorf("rollback %+v", st.Rollback)
	}
	if l.box.Link(t, "eth0").Attrs().MasterIndex != 0 {
		t.Error("eth0 still enslaved")
	}
	if got := l.box.Addrs(t, "eth0"); len(got) != 1 || got[0].String() != boxAddr {
		t.Errorf("eth0 addresses %v, want %s back", got, boxAddr)
	}
	if got := l.box.Addrs(t, "br0"); len(got) != 0 {
		t.Errorf("br0 kept %v", got)
	}
	if got := l.defaultVia(t, "eth0"); got != gateway {
		t.Errorf("default route via %q on eth0, want %s", got, gateway)
	}
	if st.Link != "eth0" {
		t.Errorf("status link %q", st.Link)
	}
	if !l.reachableFromLAN(t, "10.99.0.5") {
		t.Error("box unreachable after the rollback")
	}
}

// A later Apply whose new address cannot reach its gateway is undone on
// the bridge.
func TestReapplyRollsBack(t *testing.T) {
	l := newLab(t)
	m := l.manager(t)
	if _, err := m.Apply(context.Background(), staticSpec()); err != nil {
		t.Fatal(err)
	}
	bad := staticSpec()
	bad.IPv4 = IPv4{Address: netip.MustParsePrefix("10.98.0.5/24"), Gateway: netip.MustParseAddr("10.98.0.1")}
	bad.Probe.Timeout = 500 * time.Millisecond
	st, err := m.Apply(context.Background(), bad)
	if !errors.Is(err, ErrRolledBack) {
		t.Fatalf("Apply: %v, want a rollback", err)
	}
	if got := l.box.Addrs(t, "br0"); len(got) != 1 || got[0].String() != boxAddr {
		t.Errorf("br0 addresses %v, want %s back", got, boxAddr)
	}
	if got := l.defaultVia(t, "br0"); got != gateway {
		t.Errorf("default route via %q, want %s", got, gateway)
	}
	if st.Rollback == nil || !st.Rollback.Reachable || st.Link != "br0" {
		t.Errorf("rollback %+v link %s", st.Rollback, st.Link)
	}
}

// The supervisor's order: netcfg takes the uplink over, then vswitch
// reconciles the ports including the uplink. Neither undoes the other,
// and re-running both changes nothing.
func TestStagesCompose(t *testing.T) {
	l := newLab(t)
	m := l.manager(t)
	ctx := context.Background()
	if _, err := m.Apply(ctx, staticSpec()); err != nil {
		t.Fatal(err)
	}
	// The stage's one switch: the one the takeover went through.
	sw := l.sw
	d := vswitch.Desired{
		Bridge: vswitch.Bridge{Name: "br0"},
		Ports: []vswitch.Port{
			{Name: "eth0", Kind: vswitch.KindExternal, Label: "uplink"},
			{Name: "t-vm1-0", Kind: vswitch.KindTAP, Label: "vm/vm1/0", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}},
		},
	}
	vst, err := sw.Reconcile(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range vst.Actions {
		if !strings.Contains(a, "t-vm1-0") {
			t.Errorf("vswitch touched the taken-over bridge or uplink: %s", a)
		}
	}
	st, err := m.Apply(ctx, staticSpec())
	if err != nil || st.Changes != 0 {
		t.Errorf("netcfg after vswitch: %d changes, %v", st.Changes, err)
	}
	vst, err = sw.Reconcile(ctx, d)
	if err != nil || vst.Changes != 0 {
		t.Errorf("vswitch again: %q, %v", vst.Actions, err)
	}
	if !l.reachableFromLAN(t, "10.99.0.5") {
		t.Error("box unreachable with a TAP on the bridge")
	}
}
