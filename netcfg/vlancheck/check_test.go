package vlancheck

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// fakeConn answers what the box sends through respond, as the far side
// of a trunk would.
type fakeConn struct {
	in      chan tagged
	respond func(vlan int, frame []byte) []tagged
	sent    map[int]int
}

type tagged struct {
	vlan  int
	frame []byte
}

func newFake(respond func(vlan int, frame []byte) []tagged) *fakeConn {
	return &fakeConn{in: make(chan tagged, 64), respond: respond, sent: map[int]int{}}
}

func (f *fakeConn) Send(vlan int, frame []byte) error {
	f.sent[vlan]++
	for _, a := range f.respond(vlan, frame) {
		f.in <- a
	}
	return nil
}

func (f *fakeConn) Recv(buf []byte, deadline time.Time) (int, int, error) {
	select {
	case a := <-f.in:
		return copy(buf, a.frame), a.vlan, nil
	case <-time.After(time.Until(deadline)):
		return 0, 0, os.ErrDeadlineExceeded
	}
}

func (f *fakeConn) Close() error { return nil }

var (
	boxMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x00, 0x50, 0x01}
	gwMAC  = net.HardwareAddr{0x00, 0x1b, 0x21, 0x00, 0x00, 0x0a}
)

func arpReply(t *testing.T, from netip.Addr) []byte {
	t.Helper()
	f, err := serialize(&layers.Ethernet{SrcMAC: gwMAC, DstMAC: boxMAC, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPReply, SourceHwAddress: gwMAC, SourceProtAddress: from.AsSlice(),
			DstHwAddress: boxMAC, DstProtAddress: []byte{0, 0, 0, 0}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// offer answers the discover in frame; xor changes its transaction id.
func offer(t *testing.T, frame []byte, xor byte) []byte {
	t.Helper()
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	udp, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if !ok || udp.DstPort != 67 {
		t.Fatalf("not a DHCP discover: %v", p)
	}
	d, err := dhcpv4.FromBytes(udp.Payload)
	if err != nil || d.MessageType() != dhcpv4.MessageTypeDiscover || d.ClientHWAddr.String() != boxMAC.String() || d.IsBroadcast() {
		t.Fatalf("discover %v (%v)", d, err)
	}
	server := net.IPv4(10, 0, 30, 1)
	o, err := dhcpv4.NewReplyFromRequest(d, dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer),
		dhcpv4.WithServerIP(server), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(server)), dhcpv4.WithYourIP(net.IPv4(10, 0, 30, 50)))
	if err != nil {
		t.Fatal(err)
	}
	o.TransactionID[0] ^= xor
	f, err := serialize(&layers.Ethernet{SrcMAC: gwMAC, DstMAC: boxMAC, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: server.To4(), DstIP: net.IPv4(10, 0, 30, 50).To4()},
		withNet(&layers.UDP{SrcPort: 67, DstPort: 68}, server, net.IPv4(10, 0, 30, 50)),
		gopacket.Payload(o.ToBytes()))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func arpTarget(frame []byte) (netip.Addr, bool) {
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP)
	if !ok || a.Operation != layers.ARPRequest {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(a.DstProtAddress)), true
}

// TestCheck: a trunk that carries 10 (its gateway answers the second
// request) and 30 (a DHCP server), not 20 (its gateway's answer comes
// tagged 10, a leak that must not count for 20), and 40 where a DHCP
// answer for someone else comes.
func TestCheck(t *testing.T) {
	gw10, gw20 := netip.MustParseAddr("10.0.10.254"), netip.MustParseAddr("10.0.20.254")
	arps := 0
	c := newFake(func(vlan int, frame []byte) []tagged {
		switch vlan {
		case 10:
			if ip, ok := arpTarget(frame); ok && ip == gw10 {
				arps++
				if arps >= 2 {
					return []tagged{{10, arpReply(t, gw10)}}
				}
			}
		case 20:
			if ip, ok := arpTarget(frame); ok && ip == gw20 {
				return []tagged{{10, arpReply(t, gw20)}}
			}
		case 30:
			return []tagged{{30, offer(t, frame, 0)}}
		case 40:
			return []tagged{{40, offer(t, frame, 0xff)}}
		}
		return nil
	})
	targets := []Target{
		{VLAN: 10, Gateway: gw10, Source: netip.MustParseAddr("10.0.10.1")},
		{VLAN: 20, Gateway: gw20},
		{VLAN: 30},
		{VLAN: 40},
	}
	start := time.Now()
	res := Check(context.Background(), c, boxMAC, targets, Options{Tries: 3, Interval: 50 * time.Millisecond})
	took := time.Since(start)
	want := []struct{ state, text string }{
		{Carried, "VLAN 10 is carried: the gateway 10.0.10.254 answered ARP from 00:1b:21:00:00:0a"},
		{NotCarried, "the switch port does not carry VLAN 20: the gateway 10.0.20.254 did not answer ARP"},
		{Carried, "VLAN 30 is carried: a DHCP server answered (OFFER 10.0.30.1 from 00:1b:21:00:00:0a)"},
		{NoAnswer, "no answer on VLAN 40 (no gateway configured, no DHCP server answered)"},
	}
	if len(res) != len(want) {
		t.Fatalf("results %+v", res)
	}
	for i, w := range want {
		if res[i].VLAN != targets[i].VLAN || res[i].State != w.state || res[i].String() != w.text {
			t.Errorf("VLAN %d: %+v\n%q, want\n%q", targets[i].VLAN, res[i], res[i].String(), w.text)
		}
	}
	// Answered probes stop; silent ones are tried every time; the whole
	// check is bounded by the tries.
	if c.sent[10] != 2 || c.sent[30] != 1 || c.sent[20] != 3 || c.sent[40] != 3 {
		t.Errorf("sent %v", c.sent)
	}
	if took > time.Second {
		t.Errorf("check took %v", took)
	}
}

func TestProbeFrames(t *testing.T) {
	p, err := arpProbe(boxMAC, netip.Addr{}, netip.MustParseAddr("10.0.20.1"))
	if err != nil {
		t.Fatal(err)
	}
	pk := gopacket.NewPacket(p.frame, layers.LayerTypeEthernet, gopacket.Default)
	a, ok := pk.Layer(layers.LayerTypeARP).(*layers.ARP)
	if !ok || net.IP(a.SourceProtAddress).String() != "0.0.0.0" || net.IP(a.DstProtAddress).String() != "10.0.20.1" ||
		net.HardwareAddr(a.SourceHwAddress).String() != boxMAC.String() {
		t.Errorf("ARP probe %v", pk)
	}
	if _, err := arpProbe(boxMAC, netip.Addr{}, netip.MustParseAddr("fd00::1")); err == nil {
		t.Error("an IPv6 gateway")
	}
	if _, ok := p.match(p.frame); ok {
		t.Error("the box's own request answered it")
	}
	tg, err := tag(20, p.frame)
	if err != nil || len(tg) != len(p.frame)+4 || tg[12] != 0x81 || tg[13] != 0 || tg[14] != 0 || tg[15] != 20 || tg[16] != 0x08 || tg[17] != 0x06 {
		t.Errorf("tagged % x (%v)", tg[:18], err)
	}
	for _, v := range []int{0, 4095} {
		if _, err := tag(v, p.frame); err == nil {
			t.Errorf("tagged with VLAN %d", v)
		}
	}
	r := Result{VLAN: 20, State: Failed, Error: "no such device"}
	if !strings.Contains(r.String(), "VLAN 20 not checked: no such device") {
		t.Error(r.String())
	}
}
