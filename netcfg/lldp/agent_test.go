package lldp

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// TestAgents: two namespaces joined by a veth, one end a bridge port as
// the box's uplink is. Each agent sees the other's frame; a frame a
// "switch" sends is seen with its names; a neighbour that says it is
// leaving (TTL 0) is gone.
func TestAgents(t *testing.T) {
	a := netnstest.New(t, "lldpa")
	b := netnstest.New(t, "lldpb")
	netnstest.Veth(t, a, "eth0", b, "eth0", true)
	a.Up(t, "eth0")
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}
	if err := b.H.LinkAdd(br); err != nil {
		t.Fatal(err)
	}
	if err := b.H.LinkSetMaster(b.Link(t, "eth0"), br); err != nil {
		t.Fatal(err)
	}
	b.Up(t, "br0")
	var logMu sync.Mutex
	var logged []string
	start := func(ns *netnstest.NS, system string) (*Agent, *packet.Conn) {
		mac := ns.Link(t, "eth0").Attrs().HardwareAddr
		open := func(link string) (c *packet.Conn, err error) {
			err = ns.Namespace().Do(func() error { c, err = Open(link); return err })
			return c, err
		}
		ag := New(Options{Link: "eth0", Open: open, Interval: 200 * time.Millisecond,
			Local: func() Local { return Local{MAC: mac, Port: "eth0", SystemName: system} },
			Logf: func(f string, args ...any) {
				logMu.Lock()
				logged = append(logged, fmt.Sprintf(f, args...))
				logMu.Unlock()
			}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- ag.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("%s: %v", system, err)
			}
		})
		sender, err := open("eth0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sender.Close() })
		return ag, sender
	}
	agA, sendA := start(a, "box-a")
	agB, _ := start(b, "box-b")
	waitFor := func(ag *Agent, what string, ok func([]Neighbor) bool) []Neighbor {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			ns := ag.Neighbors()
			if ok(ns) {
				return ns
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: neighbours %+v", what, ns)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	has := func(system string) func([]Neighbor) bool {
		return func(ns []Neighbor) bool {
			for _, n := range ns {
				if n.SystemName == system {
					return true
				}
			}
			return false
		}
	}
	waitFor(agA, "a sees b", has("box-b"))
	ns := waitFor(agB, "b, a bridge port, sees a", has("box-a"))
	if n := ns[0]; n.Link != "eth0" || n.PortID != "eth0" || n.TTL != TTL {
		t.Errorf("b's neighbour: %+v", n)
	}
	// A switch on a's side: b sees its names too.
	if _, err := sendA.WriteTo(switchFrame(t, "lab-switch", "Gi1/0/7", "rack 3", 120), &packet.Addr{HardwareAddr: Multicast}); err != nil {
		t.Fatal(err)
	}
	ns = waitFor(agB, "b sees the switch", has("lab-switch"))
	if len(ns) != 2 {
		t.Errorf("b's neighbours: %+v, want box-a and lab-switch", ns)
	}
	logMu.Lock()
	all := strings.Join(logged, "\n")
	logMu.Unlock()
	if !strings.Contains(all, "lldp: eth0 is plugged into lab-switch port Gi1/0/7 (rack 3)") {
		t.Errorf("log:\n%s", all)
	}
	// The switch leaves.
	if _, err := sendA.WriteTo(switchFrame(t, "lab-switch", "Gi1/0/7", "rack 3", 0), &packet.Addr{HardwareAddr: Multicast}); err != nil {
		t.Fatal(err)
	}
	waitFor(agB, "the switch gone", func(ns []Neighbor) bool { return !has("lab-switch")(ns) && has("box-a")(ns) })
}
