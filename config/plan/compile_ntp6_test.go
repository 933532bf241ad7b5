package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/config"
)

// time.serve on IPv6: NTP on the box's IPv6 VLAN addresses too, an
// IPv6-only VLAN included, with UDP 123 open there; the VLAN carried to
// the lab network (the control) gets neither.
func TestCompileServeNTPIPv6(t *testing.T) {
	const cfg = `
hostname: b
uplink:
  vlans: [30]
  addresses:
    - {vlan: 10, address: 10.0.10.1/24, ipv6: "fd00:10::1/64"}
    - {vlan: 20, ipv6: "fd00:20::1/64"}
    - {vlan: 30, ipv6: "fd00:30::1/64"}
time: {serve: true}
containers:
  - {name: c, image: "oci-layout:/x", nics: [{vlan: 10}, {vlan: 20}]}
`
	c, err := config.Parse("box.yaml", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	var listen []string
	for _, l := range p.Desired.NTP.Listen {
		listen = append(listen, l.Interface+" "+l.Address.String())
	}
	if got, want := strings.Join(listen, ", "), "vlan10 10.0.10.1/24, vlan10 fd00:10::1/64, vlan20 fd00:20::1/64"; got != want {
		t.Errorf("ntp listens on %q, want %q", got, want)
	}
	if err := p.Desired.NTP.Validate(); err != nil {
		t.Error(err)
	}
	for _, s := range p.Desired.Firewall.Segments {
		if open, want := slices.Contains(s.UDP, 123), s.Interface != "vlan30"; open != want {
			t.Errorf("firewall segment %s udp %v", s.Interface, s.UDP)
		}
	}
}
