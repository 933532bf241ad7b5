package dhcpd

import (
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// The boot options hook adds to offers and ACKs of the scope it is asked
// about, and to nothing else (not a NAK).
func TestBootOptionsHook(t *testing.T) {
	sc := testScope()
	var asked []int
	s, _ := New(Options{Now: func() time.Time { return t0 }, BootOptions: func(vlan int, req *dhcpv4.DHCPv4) []dhcpv4.Modifier {
		asked = append(asked, vlan)
		return []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptBootFileName("boot.ipxe")), dhcpv4.WithServerIP(net.ParseIP("10.0.10.1"))}
	}})
	s.scopes[10] = &sc
	offer := s.answer(10, []*dhcpv4.DHCPv4{msg(t, dhcpv4.MessageTypeDiscover, "02:aa:00:00:00:01")})
	if len(offer) != 1 || offer[0].reply.BootFileNameOption() != "boot.ipxe" || !offer[0].reply.ServerIPAddr.Equal(net.ParseIP("10.0.10.1")) {
		t.Fatalf("offer without the boot options: %+v", offer)
	}
	ack := s.answer(10, []*dhcpv4.DHCPv4{msg(t, dhcpv4.MessageTypeRequest, "02:aa:00:00:00:01", requested(offer[0].reply.YourIPAddr.String()), serverID("10.0.10.1"))})
	if len(ack) != 1 || ack[0].reply.MessageType() != dhcpv4.MessageTypeAck || ack[0].reply.BootFileNameOption() != "boot.ipxe" {
		t.Errorf("ACK without the boot options: %+v", ack)
	}
	nak := s.answer(10, []*dhcpv4.DHCPv4{msg(t, dhcpv4.MessageTypeRequest, "02:aa:00:00:00:02", requested("10.0.99.9"), serverID("10.0.10.1"))})
	if len(nak) != 1 || nak[0].reply.MessageType() != dhcpv4.MessageTypeNak || nak[0].reply.BootFileNameOption() != "" {
		t.Errorf("NAK: %+v", nak)
	}
	if len(asked) != 2 || asked[0] != 10 {
		t.Errorf("hook asked for VLANs %v, want 10 twice", asked)
	}
}
