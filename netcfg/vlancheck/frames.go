package vlancheck

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

var broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func serialize(ls ...gopacket.SerializableLayer) ([]byte, error) {
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...)
	return buf.Bytes(), err
}

// arpProbe asks who has gw. Any ARP frame whose sender is gw answers it:
// a reply, or the gateway's own request or announcement, all prove that
// the gateway is on this VLAN.
func arpProbe(mac net.HardwareAddr, src, gw netip.Addr) (*probe, error) {
	if !gw.Is4() {
		return nil, fmt.Errorf("gateway %s is not an IPv4 address", gw)
	}
	sip := netip.IPv4Unspecified()
	if src.Is4() {
		sip = src
	}
	f, err := serialize(
		&layers.Ethernet{SrcMAC: mac, DstMAC: broadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: mac, SourceProtAddress: sip.AsSlice(),
			DstHwAddress: make([]byte, 6), DstProtAddress: gw.AsSlice()})
	if err != nil {
		return nil, err
	}
	match := func(frame []byte) (string, bool) {
		p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.NoCopy)
		a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP)
		if !ok || len(a.SourceProtAddress) != 4 || netip.AddrFrom4([4]byte(a.SourceProtAddress)) != gw {
			return "", false
		}
		return net.HardwareAddr(a.SourceHwAddress).String(), true
	}
	return &probe{frame: f, match: match}, nil
}

// dhcpProbe is a DHCP discover from the uplink's MAC. The broadcast flag
// is off, so a server sends its offer to that MAC rather than to every
// port of the VLAN; the transaction id ties the offer to this probe.
func dhcpProbe(mac net.HardwareAddr) (*probe, error) {
	d, err := dhcpv4.NewDiscovery(mac, dhcpv4.WithBroadcast(false))
	if err != nil {
		return nil, err
	}
	xid := d.TransactionID
	f, err := serialize(
		&layers.Ethernet{SrcMAC: mac, DstMAC: broadcast, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4zero.To4(), DstIP: net.IPv4bcast.To4()},
		withNet(&layers.UDP{SrcPort: dhcpv4.ClientPort, DstPort: dhcpv4.ServerPort}, net.IPv4zero, net.IPv4bcast),
		gopacket.Payload(d.ToBytes()))
	if err != nil {
		return nil, err
	}
	match := func(frame []byte) (string, bool) {
		p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.NoCopy)
		udp, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok || udp.DstPort != dhcpv4.ClientPort {
			return "", false
		}
		m, err := dhcpv4.FromBytes(udp.Payload)
		if err != nil || m.OpCode != dhcpv4.OpcodeBootReply || m.TransactionID != xid {
			return "", false
		}
		server := m.ServerIdentifier()
		if server == nil {
			if ip, ok := p.NetworkLayer().(*layers.IPv4); ok {
				server = ip.SrcIP
			}
		}
		from := ""
		if eth, ok := p.LinkLayer().(*layers.Ethernet); ok {
			from = " from " + eth.SrcMAC.String()
		}
		return fmt.Sprintf("%s %s%s", m.MessageType(), server, from), true
	}
	return &probe{frame: f, match: match}, nil
}

// withNet gives the UDP layer its pseudo-header for the checksum.
func withNet(u *layers.UDP, src, dst net.IP) *layers.UDP {
	_ = u.SetNetworkLayerForChecksum(&layers.IPv4{Version: 4, Protocol: layers.IPProtocolUDP, SrcIP: src.To4(), DstIP: dst.To4()})
	return u
}
