package lldp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Multicast is the nearest-bridge address LLDP frames go to; bridges
// never forward it.
var Multicast = net.HardwareAddr{0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e}

// Neighbor is what a neighbour says about itself.
type Neighbor struct {
	// Link is the box's link the frame came in on.
	Link              string   `json:"link"`
	ChassisID         string   `json:"chassis_id"`
	PortID            string   `json:"port_id"`
	PortDescription   string   `json:"port_description,omitempty"`
	SystemName        string   `json:"system_name,omitempty"`
	SystemDescription string   `json:"system_description,omitempty"`
	MgmtAddresses     []string `json:"management_addresses,omitempty"`
	// TTL is how long the neighbour said to keep this; LastSeen when
	// its last frame came.
	TTL      time.Duration `json:"ttl_ns"`
	LastSeen time.Time     `json:"last_seen"`
}

// Local is what the box says about itself.
type Local struct {
	MAC         net.HardwareAddr // the chassis id
	Port        string           // the link's name
	PortDesc    string
	SystemName  string
	SystemDesc  string
	MgmtAddress netip.Addr // invalid: none
}

// TTL is the time to live the box asks for: four missed frames.
const TTL = 120 * time.Second

// capBridge and capStation are the system capabilities (IEEE 802.1AB
// 8.5.8): the box bridges its workloads and is a station itself.
const (
	capBridge  = 1 << 2
	capStation = 1 << 7
)

func tlv(t layers.LLDPTLVType, v []byte) layers.LinkLayerDiscoveryValue {
	return layers.LinkLayerDiscoveryValue{Type: t, Length: uint16(len(v)), Value: v}
}

// Frame builds the box's LLDP frame.
func Frame(l Local) ([]byte, error) {
	if len(l.MAC) != 6 || l.Port == "" {
		return nil, errors.New("lldp: a frame needs the link's MAC and name")
	}
	var values []layers.LinkLayerDiscoveryValue
	if l.PortDesc != "" {
		values = append(values, tlv(layers.LLDPTLVPortDescription, []byte(l.PortDesc)))
	}
	if l.SystemName != "" {
		values = append(values, tlv(layers.LLDPTLVSysName, []byte(l.SystemName)))
	}
	if l.SystemDesc != "" {
		values = append(values, tlv(layers.LLDPTLVSysDescription, []byte(l.SystemDesc)))
	}
	caps := make([]byte, 4)
	binary.BigEndian.PutUint16(caps[0:], capBridge|capStation)
	binary.BigEndian.PutUint16(caps[2:], capBridge|capStation)
	values = append(values, tlv(layers.LLDPTLVSysCapabilities, caps))
	if a := l.MgmtAddress; a.IsValid() {
		family, ab := byte(layers.IANAAddressFamilyIPV4), a.AsSlice()
		if a.Is6() && !a.Is4In6() {
			family = byte(layers.IANAAddressFamilyIPV6)
		}
		// length, family, address, interface numbering (unknown), number 0, OID length 0
		v := append([]byte{byte(len(ab) + 1), family}, ab...)
		v = append(v, 1, 0, 0, 0, 0, 0)
		values = append(values, tlv(layers.LLDPTLVMgmtAddress, v))
	}
	eth := &layers.Ethernet{SrcMAC: l.MAC, DstMAC: Multicast, EthernetType: layers.EthernetTypeLinkLayerDiscovery}
	lldp := &layers.LinkLayerDiscovery{
		ChassisID: layers.LLDPChassisID{Subtype: layers.LLDPChassisIDSubTypeMACAddr, ID: l.MAC},
		PortID:    layers.LLDPPortID{Subtype: layers.LLDPPortIDSubtypeIfaceName, ID: []byte(l.Port)},
		TTL:       uint16(TTL / time.Second),
		Values:    values,
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, eth, lldp); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Parse reads an Ethernet frame carrying an LLDP data unit.
func Parse(frame []byte) (Neighbor, error) {
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	l, ok := p.Layer(layers.LayerTypeLinkLayerDiscovery).(*layers.LinkLayerDiscovery)
	if !ok {
		if e := p.ErrorLayer(); e != nil {
			return Neighbor{}, fmt.Errorf("lldp: %v", e.Error())
		}
		return Neighbor{}, errors.New("lldp: not an LLDP frame")
	}
	n := Neighbor{
		ChassisID: idString(byte(l.ChassisID.Subtype) == byte(layers.LLDPChassisIDSubTypeMACAddr), l.ChassisID.ID),
		PortID:    idString(l.PortID.Subtype == layers.LLDPPortIDSubtypeMACAddr, l.PortID.ID),
		TTL:       time.Duration(l.TTL) * time.Second,
	}
	if info, ok := p.Layer(layers.LayerTypeLinkLayerDiscoveryInfo).(*layers.LinkLayerDiscoveryInfo); ok {
		n.PortDescription = printable(info.PortDescription)
		n.SystemName = printable(info.SysName)
		n.SystemDescription = printable(info.SysDescription)
		if a, ok := netip.AddrFromSlice(info.MgmtAddress.Address); ok && len(info.MgmtAddress.Address) > 0 {
			n.MgmtAddresses = append(n.MgmtAddresses, a.Unmap().String())
		}
	}
	if n.ChassisID == "" || n.PortID == "" {
		return Neighbor{}, errors.New("lldp: no chassis or port id")
	}
	return n, nil
}

// idString writes a MAC as one, anything else as its printable text.
func idString(mac bool, id []byte) string {
	if mac && len(id) == 6 {
		return net.HardwareAddr(id).String()
	}
	return printable(string(id))
}

// printable keeps what a neighbour says from carrying control
// characters into the status and the log.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}
