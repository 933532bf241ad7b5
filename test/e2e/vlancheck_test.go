package e2e

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/nucbox/nucbox/test/harness"
)

// routerMAC is the lab router the test plays on the segment.
var routerMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x10, 0xfe}

// arpRequestFor reports whether f is an ARP request for ip tagged vlan,
// and returns it.
func arpRequestFor(f harness.Frame, vlan int, ip netip.Addr) (*layers.ARP, bool) {
	if id, ok := f.VLAN(); !ok || id != vlan {
		return nil, false
	}
	p := gopacket.NewPacket(f.Data, layers.LayerTypeEthernet, gopacket.Default)
	a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP)
	if !ok || a.Operation != layers.ARPRequest || len(a.DstProtAddress) != 4 || netip.AddrFrom4([4]byte(a.DstProtAddress)) != ip {
		return nil, false
	}
	return a, true
}

// routerOnVLAN answers, as a lab router, every ARP request for ip that
// comes tagged vlan on seg, until the test ends: the switch port of the
// test carries that VLAN to a router that owns ip.
func routerOnVLAN(t *testing.T, seg *harness.Segment, vlan int, ip netip.Addr) {
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		var last time.Time
		for {
			select {
			case <-stop:
				return
			default:
			}
			var req *layers.ARP
			f, err := seg.WaitFrame(time.Second, func(f harness.Frame) bool {
				var ok bool
				req, ok = arpRequestFor(f, vlan, ip)
				return ok && f.Time.After(last)
			})
			if err != nil {
				continue
			}
			last = f.Time
			reply, err := arpReply(vlan, ip, req)
			if err == nil {
				seg.Inject("router", reply)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-stopped })
}

func arpReply(vlan int, ip netip.Addr, req *layers.ARP) ([]byte, error) {
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true},
		&layers.Ethernet{SrcMAC: routerMAC, DstMAC: req.SourceHwAddress, EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: uint16(vlan), Type: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPReply, SourceHwAddress: routerMAC, SourceProtAddress: ip.AsSlice(),
			DstHwAddress: req.SourceHwAddress, DstProtAddress: req.SourceProtAddress})
	return buf.Bytes(), err
}
