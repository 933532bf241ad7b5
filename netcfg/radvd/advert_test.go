package radvd

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
)

// The advert carries the prefix for SLAAC (on-link, autonomous), the DNS
// server, the MTU and the box's MAC, and no default route; it survives
// the wire format. A link without DNS sends no RDNSS option.
func TestAdvert(t *testing.T) {
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	l := Link{VLAN: 10, Interface: "vlan10", Prefix: netip.MustParsePrefix("fd00:10::1/64"),
		DNS: []netip.Addr{netip.MustParseAddr("fd00:10::1")}, MTU: 1450}
	b, err := ndp.MarshalMessage(Advert(l, mac))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ndp.ParseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	ra, ok := m.(*ndp.RouterAdvertisement)
	if !ok {
		t.Fatalf("parsed %T, want a router advert", m)
	}
	if ra.RouterLifetime != 0 {
		t.Errorf("router lifetime %s: the box would become a default router", ra.RouterLifetime)
	}
	// Where the box forwards (NAT66) it is the default router.
	l.Router = true
	if got := Advert(l, mac).RouterLifetime; got != 600*time.Second {
		t.Errorf("routed link: router lifetime %s, want 10m0s", got)
	}
	var pi *ndp.PrefixInformation
	var dns *ndp.RecursiveDNSServer
	var mtu *ndp.MTU
	var lla *ndp.LinkLayerAddress
	for _, o := range ra.Options {
		switch o := o.(type) {
		case *ndp.PrefixInformation:
			pi = o
		case *ndp.RecursiveDNSServer:
			dns = o
		case *ndp.MTU:
			mtu = o
		case *ndp.LinkLayerAddress:
			lla = o
		}
	}
	switch {
	case pi == nil:
		t.Fatal("no prefix option")
	case pi.Prefix != netip.MustParseAddr("fd00:10::") || pi.PrefixLength != 64:
		t.Errorf("prefix %s/%d, want fd00:10::/64", pi.Prefix, pi.PrefixLength)
	case !pi.OnLink || !pi.AutonomousAddressConfiguration:
		t.Errorf("prefix on-link %v autonomous %v, want both", pi.OnLink, pi.AutonomousAddressConfiguration)
	case pi.ValidLifetime < pi.PreferredLifetime || pi.PreferredLifetime < 3*Interval:
		t.Errorf("lifetimes valid %s preferred %s: must outlast missed adverts", pi.ValidLifetime, pi.PreferredLifetime)
	}
	if dns == nil || len(dns.Servers) != 1 || dns.Servers[0] != l.DNS[0] || dns.Lifetime < 2*Interval {
		t.Errorf("RDNSS %+v, want fd00:10::1 for at least two intervals", dns)
	}
	if mtu == nil || mtu.MTU != 1450 {
		t.Errorf("MTU option %v, want 1450", mtu)
	}
	if lla == nil || lla.Direction != ndp.Source || lla.Addr.String() != mac.String() {
		t.Errorf("source link-layer option %+v, want %s", lla, mac)
	}

	l.DNS, l.MTU = nil, 0
	for _, o := range Advert(l, nil).Options {
		if _, ok := o.(*ndp.PrefixInformation); !ok {
			t.Errorf("advert without DNS, MTU and MAC has option %T", o)
		}
	}
}

// Validate rejects what would advertise nothing usable, and accepts a
// good spec (the positive control).
func TestValidate(t *testing.T) {
	good := Link{VLAN: 10, Interface: "vlan10", Prefix: netip.MustParsePrefix("fd00:10::1/64")}
	if err := (Spec{Links: []Link{good}}).Validate(); err != nil {
		t.Fatalf("good spec: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Link)
		want string
	}{
		{"not /64", func(l *Link) { l.Prefix = netip.MustParsePrefix("fd00:10::1/56") }, "not a global or unique local /64"},
		{"IPv4", func(l *Link) { l.Prefix = netip.MustParsePrefix("10.0.0.1/24") }, "not a global or unique local /64"},
		{"link-local", func(l *Link) { l.Prefix = netip.MustParsePrefix("fe80::1/64") }, "not a global or unique local /64"},
		{"IPv4 DNS", func(l *Link) { l.DNS = []netip.Addr{netip.MustParseAddr("10.0.0.1")} }, "not IPv6"},
		{"no interface", func(l *Link) { l.Interface = "" }, "interface name"},
		{"small MTU", func(l *Link) { l.MTU = 1000 }, "MTU 1000"},
	} {
		l := good
		tc.edit(&l)
		err := (Spec{Links: []Link{l}}).Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := (Spec{Links: []Link{good, good}}).Validate(); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("twice: %v", err)
	}
}
