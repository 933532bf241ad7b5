package pxed

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
)

// The advert goes only to a machine that was sent boot options a moment
// ago, found by its solicitation's link-layer option or its EUI-64
// address; it configures nothing.
func TestAdvertOnlyToBootingMachines(t *testing.T) {
	now := time.Unix(1000, 0)
	s := New(Options{Now: func() time.Time { return now }})
	s.machines.now = func() time.Time { return now }
	mac, _ := net.ParseMAC("52:54:00:00:70:01")
	eui := netip.MustParseAddr("fe80::5054:ff:fe00:7001")
	withOption := &ndp.RouterSolicitation{Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: mac}}}
	bare := &ndp.RouterSolicitation{}

	if got := solicitorMAC(bare, eui); got != "52:54:00:00:70:01" {
		t.Errorf("MAC of %s: %q", eui, got)
	}
	if got := solicitorMAC(withOption, netip.MustParseAddr("fe80::1")); got != "52:54:00:00:70:01" {
		t.Errorf("MAC from the option: %q", got)
	}
	if got := solicitorMAC(bare, netip.MustParseAddr("fe80::1")); got != "" {
		t.Errorf("MAC of a non-EUI-64 address: %q", got)
	}
	if s.booting("52:54:00:00:70:01") {
		t.Error("a machine never sent boot options counts as booting")
	}
	s.machines.record("52:54:00:00:70:02", netip.Addr{}, "config")
	if s.booting("52:54:00:00:70:02") {
		t.Error("a machine seen otherwise counts as booting")
	}
	s.machines.bootFrom("52:54:00:00:70:01", netip.Addr{})
	if !s.booting(solicitorMAC(bare, eui)) {
		t.Error("the machine just sent boot options is not booting")
	}
	now = now.Add(bootingFor + time.Second)
	if s.booting("52:54:00:00:70:01") {
		t.Error("still booting long after its boot options")
	}
	if got := linkLocalOf("52:54:00:00:70:01"); got != eui {
		t.Errorf("link-local of the MAC: %s, want %s", got, eui)
	}
	ra := nothingAdvert(net.HardwareAddr{2, 0, 0, 0, 0, 1})
	if ra.RouterLifetime != 0 || ra.ManagedConfiguration || ra.OtherConfiguration || len(ra.Options) != 1 {
		t.Errorf("the advert configures something: %+v", ra)
	}
}
