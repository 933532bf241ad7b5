package netcfg

import (
	"net/netip"
	"testing"

	"github.com/mdlayher/ndp"
)

// The solicitation parses as one for the target, from ::, to its
// solicited-node group, with a checksum a receiver accepts; a neighbour
// advert for the target is recognised and one for another is not.
func TestNeighborSolicitation(t *testing.T) {
	target := netip.MustParseAddr("fe80::c8bb:aeff:fe78:dbbb")
	b, group := neighborSolicitation(target)
	if group != netip.MustParseAddr("ff02::1:ff78:dbbb") {
		t.Errorf("group %s", group)
	}
	m, err := ndp.ParseMessage(b[40:])
	if err != nil {
		t.Fatal(err)
	}
	if ns, ok := m.(*ndp.NeighborSolicitation); !ok || ns.TargetAddress != target || len(ns.Options) != 0 {
		t.Errorf("parsed %+v", m)
	}
	if sum := icmp6Checksum(b[8:24], b[24:40], b[40:]); sum != 0 {
		t.Errorf("checksum over the message with its checksum is %#x, want 0", sum)
	}
	na := make([]byte, 64)
	copy(na, b)
	na[40] = 136
	if !isNeighborAdvert(na, target) || isNeighborAdvert(na, netip.MustParseAddr("fe80::1")) {
		t.Error("neighbour advert for the target not told from one for another")
	}
	na[7] = 64
	if isNeighborAdvert(na, target) {
		t.Error("an advert with hop limit 64 (routed) was taken")
	}
}
