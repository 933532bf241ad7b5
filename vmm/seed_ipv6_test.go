package vmm

import (
	"net/netip"
	"strings"
	"testing"
)

// A static IPv6 address joins the NIC's static IPv4 one in the
// network-config, stands beside dhcp4, and alone still writes the NIC;
// an IPv4 prefix in its place is refused.
func TestSeedIPv6(t *testing.T) {
	s := seedSpec()
	s.NICs[0].IPv6 = netip.MustParsePrefix("fd00:10::5/64")
	s.NICs[1].IPv6 = netip.MustParsePrefix("fd00:20::5/64")
	s.NICs[2].IPv6 = netip.MustParsePrefix("fd00:30::5/64")
	b, err := networkConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"    addresses:\n      - 10.0.10.5/24\n      - fd00:10::5/64\n    routes:",
		"macaddress: \"02:00:00:00:00:02\"\n    dhcp4: false\n    addresses:\n      - fd00:20::5/64\n",
		"macaddress: \"02:00:00:00:00:03\"\n    dhcp4: true\n    addresses:\n      - fd00:30::5/64\n",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("network-config:\n%s\nlacks:\n%s", b, want)
		}
	}
	s.NICs[1].IPv6 = netip.MustParsePrefix("10.0.20.5/24")
	if _, err := networkConfig(s); err == nil || !strings.Contains(err.Error(), "not an IPv6 address") {
		t.Errorf("an IPv4 prefix as IPv6: %v", err)
	}
}
