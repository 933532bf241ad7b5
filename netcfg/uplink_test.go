package netcfg

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// Three NICs stand in as veths: eth0 without carrier (its far end is
// down), eth1 and eth2 with carrier. Auto picks eth1 every time and puts
// eth0 back down; by name and by MAC pick what they name.
func TestSelectUplink(t *testing.T) {
	box, lan := netnstest.New(t, "box"), netnstest.New(t, "lan")
	netnstest.Veth(t, box, "eth0", lan, "lan0", false)
	netnstest.Veth(t, box, "eth1", lan, "lan1", true)
	netnstest.Veth(t, box, "eth2", lan, "lan2", true)
	// More veths inside the box: candidates too, but later in the order.
	netnstest.Veth(t, box, "eth3", box, "x-peer", true)
	m, err := New(Options{Namespace: box.Namespace(), PhysicalKinds: []string{"veth"}, Settle: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sel := func(s Selector) (uplink, error) {
		var n atomic.Int64
		return m.selectUplink(context.Background(), kernel{h: m.h, n: &n}, s, "br0", 2*time.Second)
	}

	up, err := sel(Selector{})
	if err != nil {
		t.Fatal(err)
	}
	if up.Name != "eth1" {
		t.Errorf("auto picked %s, want eth1", up.Name)
	}
	if box.Link(t, "eth0").Attrs().Flags&net.FlagUp != 0 {
		t.Error("eth0 was left up after looking for carrier")
	}

	eth2 := box.Link(t, "eth2").Attrs().HardwareAddr
	if up, err := sel(Selector{MAC: eth2}); err != nil || up.Name != "eth2" {
		t.Errorf("by MAC: %v, %v", up, err)
	}
	m.uplinkIndex = 0
	if up, err := sel(Selector{Name: "eth2"}); err != nil || up.Name != "eth2" {
		t.Errorf("by name: %v, %v", up, err)
	}

	// Nothing with carrier: the error lists what was seen and why.
	m.uplinkIndex = 0
	start := time.Now()
	_, err = m.selectUplink(context.Background(), kernel{h: m.h, n: new(atomic.Int64)}, Selector{Name: "eth0"}, "br0", 500*time.Millisecond)
	if err == nil {
		t.Fatal("eth0 without carrier was selected")
	}
	if d := time.Since(start); d < 450*time.Millisecond || d > 2*time.Second {
		t.Errorf("gave up after %v, want the 500ms deadline", d)
	}
	for _, want := range []string{"no uplink (eth0) with carrier after 500ms", "eth0 (veth", "no carrier", "lo (device", "loopback"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	t.Log(err)

	// Carrier arriving during the wait is seen (RTM_NEWLINK).
	lan0 := lan.Link(t, "lan0")
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = lan.H.LinkSetUp(lan0)
	}()
	if up, err := sel(Selector{Name: "eth0"}); err != nil || up.Name != "eth0" {
		t.Errorf("eth0 after carrier came: %v, %v", up, err)
	}
}
