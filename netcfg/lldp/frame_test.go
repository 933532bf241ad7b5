package lldp

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// switchFrame is what a lab switch sends: a locally assigned chassis id,
// an interface-name port, names with a control character to strip.
func switchFrame(t testing.TB, system, port, portDesc string, ttl uint16) []byte {
	t.Helper()
	mac := net.HardwareAddr{0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc}
	eth := &layers.Ethernet{SrcMAC: mac, DstMAC: Multicast, EthernetType: layers.EthernetTypeLinkLayerDiscovery}
	l := &layers.LinkLayerDiscovery{
		ChassisID: layers.LLDPChassisID{Subtype: layers.LLDPChassisIDSubTypeLocal, ID: []byte("SW-LAB-1")},
		PortID:    layers.LLDPPortID{Subtype: layers.LLDPPortIDSubtypeIfaceName, ID: []byte(port)},
		TTL:       ttl,
		Values: []layers.LinkLayerDiscoveryValue{
			tlv(layers.LLDPTLVPortDescription, []byte(portDesc)),
			tlv(layers.LLDPTLVSysName, []byte(system)),
		},
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, eth, l); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFrameRoundTrip(t *testing.T) {
	mac := net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	f, err := Frame(Local{MAC: mac, Port: "eno1", PortDesc: "uplink of br0", SystemName: "nuc1",
		SystemDesc: "nucbox test", MgmtAddress: netip.MustParseAddr("192.168.1.20")})
	if err != nil {
		t.Fatal(err)
	}
	if got := net.HardwareAddr(f[0:6]); got.String() != Multicast.String() {
		t.Errorf("destination %s", got)
	}
	n, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	want := Neighbor{ChassisID: mac.String(), PortID: "eno1", PortDescription: "uplink of br0", SystemName: "nuc1",
		SystemDescription: "nucbox test", MgmtAddresses: []string{"192.168.1.20"}, TTL: TTL}
	if n.ChassisID != want.ChassisID || n.PortID != want.PortID || n.PortDescription != want.PortDescription ||
		n.SystemName != want.SystemName || n.SystemDescription != want.SystemDescription || n.TTL != want.TTL ||
		strings.Join(n.MgmtAddresses, ",") != "192.168.1.20" {
		t.Errorf("parsed %+v, want %+v", n, want)
	}
	if _, err := Frame(Local{Port: "eno1"}); err == nil {
		t.Error("a frame without a MAC")
	}
}

func TestParseSwitchFrame(t *testing.T) {
	n, err := Parse(switchFrame(t, "lab-switch\x07", "Gi1/0/7", "rack 3 \x1b[31mNUC", 120))
	if err != nil {
		t.Fatal(err)
	}
	if n.ChassisID != "SW-LAB-1" || n.PortID != "Gi1/0/7" || n.SystemName != "lab-switch" || n.PortDescription != "rack 3 [31mNUC" || n.TTL != 2*time.Minute {
		t.Errorf("parsed %+v", n)
	}
	for _, bad := range [][]byte{nil, []byte("not a frame at all, just bytes"), switchFrame(t, "x", "p", "d", 1)[:20]} {
		if n, err := Parse(bad); err == nil {
			t.Errorf("%q parsed as %+v", bad, n)
		}
	}
}

// FuzzParse: any frame parses or fails, never panics, and what it gives
// has no control characters.
func FuzzParse(f *testing.F) {
	f.Add(switchFrame(f, "lab-switch", "Gi1/0/7", "rack 3", 120))
	own, _ := Frame(Local{MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Port: "eth0", SystemName: "nuc", MgmtAddress: netip.MustParseAddr("fd00::1")})
	f.Add(own)
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := Parse(b)
		if err != nil {
			return
		}
		for _, s := range append([]string{n.ChassisID, n.PortID, n.PortDescription, n.SystemName, n.SystemDescription}, n.MgmtAddresses...) {
			if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("control character in %q", s)
			}
		}
	})
}
