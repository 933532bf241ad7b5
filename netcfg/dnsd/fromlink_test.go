package dnsd

import (
	"net/netip"
	"testing"
)

func TestFromLink(t *testing.T) {
	v6, v4 := netip.MustParsePrefix("fd00:10::/64"), netip.MustParsePrefix("10.0.10.0/24")
	tests := []struct {
		src  string
		sub  netip.Prefix
		want bool
	}{
		{"fd00:10::889f:88ff:fee9:9680", v6, true},
		{"fe80::889f:88ff:fee9:9680%vlan10", v6, true}, // SLAAC address still tentative
		{"fe80::1", v6, true},
		{"fd00:20::5", v6, false},
		{"2001:db8::1", v6, false},
		{"10.0.10.100", v4, true},
		{"::ffff:10.0.10.100", v4, true},
		{"10.0.2.15", v4, false},
		{"fe80::1%vlan10", v4, false}, // an IPv4 listener takes no IPv6 client
	}
	for _, tt := range tests {
		if got := fromLink(netip.MustParseAddr(tt.src), tt.sub); got != tt.want {
			t.Errorf("fromLink(%s, %s) = %t, want %t", tt.src, tt.sub, got, tt.want)
		}
	}
}
