package vlancheck

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/vishvananda/netlink"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// TestTrunk: the box's uplink is a bridge port in one namespace; the
// far end of its veth carries VLAN 10 only, with the gateway's address
// on a VLAN interface there. The kernel there answers ARP on 10 (the
// positive control), nothing answers on 20, and 30, without a gateway,
// gets no DHCP answer.
func TestTrunk(t *testing.T) {
	box := netnstest.New(t, "vcbox")
	sw := netnstest.New(t, "vcsw")
	netnstest.Veth(t, box, "eth0", sw, "eth0", true)
	box.Up(t, "eth0")
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}
	if err := box.H.LinkAdd(br); err != nil {
		t.Fatal(err)
	}
	if err := box.H.LinkSetMaster(box.Link(t, "eth0"), br); err != nil {
		t.Fatal(err)
	}
	box.Up(t, "br0")
	// The far side: a gateway on VLAN 10 only, answering ARP as the
	// switch's trunk would deliver it (this kernel may have no 8021q to
	// give it a VLAN interface).
	gw10 := netip.MustParseAddr("10.0.10.254")
	swMAC := sw.Link(t, "eth0").Attrs().HardwareAddr
	var far Conn
	if err := sw.Namespace().Do(func() (err error) { far, err = Open("eth0"); return err }); err != nil {
		t.Fatal(err)
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	seen := map[int]int{} // ARP requests by VLAN
	go func() {
		defer close(stopped)
		buf := make([]byte, 2048)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, vlan, err := far.Recv(buf, time.Now().Add(50*time.Millisecond))
			if err != nil {
				continue
			}
			pk := gopacket.NewPacket(buf[:n], layers.LayerTypeEthernet, gopacket.Default)
			a, ok := pk.Layer(layers.LayerTypeARP).(*layers.ARP)
			if !ok || a.Operation != layers.ARPRequest {
				continue
			}
			seen[vlan]++
			if vlan != 10 || netip.AddrFrom4([4]byte(a.DstProtAddress)) != gw10 {
				continue
			}
			reply, _ := serialize(&layers.Ethernet{SrcMAC: swMAC, DstMAC: a.SourceHwAddress, EthernetType: layers.EthernetTypeARP},
				&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
					Operation: layers.ARPReply, SourceHwAddress: swMAC, SourceProtAddress: gw10.AsSlice(),
					DstHwAddress: a.SourceHwAddress, DstProtAddress: a.SourceProtAddress})
			far.Send(10, reply)
		}
	}()
	defer far.Close()

	var c Conn
	if err := box.Namespace().Do(func() (err error) { c, err = Open("eth0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	targets := []Target{
		{VLAN: 10, Gateway: gw10, Source: netip.MustParseAddr("10.0.10.1")},
		{VLAN: 20, Gateway: netip.MustParseAddr("10.0.20.254"), Source: netip.MustParseAddr("10.0.20.1")},
		{VLAN: 30},
	}
	res := Check(context.Background(), c, box.Link(t, "eth0").Attrs().HardwareAddr, targets, Options{Tries: 2, Interval: 500e6})
	for i, want := range []string{Carried, NotCarried, NoAnswer} {
		t.Logf("%s", res[i])
		if res[i].State != want {
			t.Errorf("VLAN %d: %s, want %s: %+v", res[i].VLAN, res[i].State, want, res[i])
		}
	}
	// The far side saw the requests of both VLANs, tagged as sent.
	close(stop)
	<-stopped
	if seen[10] == 0 || seen[20] == 0 {
		t.Errorf("ARP requests seen on the far side by VLAN: %v", seen)
	}
	if res[0].Answer != swMAC.String() {
		t.Errorf("VLAN 10 answered by %s, want the far end %s", res[0].Answer, swMAC)
	}
}
