package plan

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/config"
)

const serveConfig = `
hostname: dhcpbox
uplink:
  addresses:
    - {vlan: 10, address: 10.0.10.1/24, nat: true, dhcp: {range: 10.0.10.100-10.0.10.199, mtu: 1450}}
    - {vlan: 20, address: 10.0.20.1/24}
vms:
  - name: vm1
    nics: [{vlan: 10, ipv4: {address: 10.0.10.5/24}}]
containers:
  - {name: web, image: busybox:1, nics: [{vlan: 10, ipv4: dhcp}, {vlan: 20}]}
`

// The scopes, the DNS server and the firewall ports compiled from a box
// address with dhcp; the VLAN without dhcp gets none of them.
func TestCompileServe(t *testing.T) {
	c, err := config.Parse("box.yaml", []byte(serveConfig))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	d := p.Desired
	if len(d.DHCP.Scopes) != 1 {
		t.Fatalf("scopes: %+v", d.DHCP.Scopes)
	}
	sc := d.DHCP.Scopes[0]
	box := netip.MustParseAddr("10.0.10.1")
	if sc.Interface != "vlan10" || sc.Server.Addr() != box || sc.Router != box || len(sc.DNS) != 1 || sc.DNS[0] != box ||
		sc.Lease != time.Hour || sc.MTU != 1450 || sc.Domain != "lab" || sc.First.String() != "10.0.10.100" || sc.Last.String() != "10.0.10.199" {
		t.Errorf("scope: %+v", sc)
	}
	vmMAC := config.DeriveMAC("dhcpbox", "vm1", 0).String()
	ctMAC := config.DeriveMAC("dhcpbox", "web", 0).String()
	if len(sc.Hosts) != 2 || sc.Hosts[0].MAC != vmMAC || sc.Hosts[0].Address.String() != "10.0.10.5" || sc.Hosts[0].Name != "vm1" ||
		sc.Hosts[1].MAC != ctMAC || sc.Hosts[1].Address.IsValid() || sc.Hosts[1].Name != "web" {
		t.Errorf("hosts: %+v", sc.Hosts)
	}
	if len(d.DNS.Listen) != 1 || d.DNS.Listen[0].Interface != "vlan10" || d.DNS.Domain != "lab" ||
		len(d.DNS.Hosts) != 1 || d.DNS.Hosts[0].Name != "vm1" {
		t.Errorf("dns: %+v", d.DNS)
	}
	for _, s := range d.Firewall.Segments {
		served := s.Interface == "vlan10"
		if got := len(s.UDP) == 2 && len(s.TCP) == 1; got != served {
			t.Errorf("firewall segment %s: udp %v tcp %v", s.Interface, s.UDP, s.TCP)
		}
	}
	var text bytes.Buffer
	p.WriteText(&text)
	for _, want := range []string{"dhcp vlan10", "range:        10.0.10.100-10.0.10.199", "fixed lease:  vm1 " + vmMAC + " -> 10.0.10.5", "dns lab", "router:       10.0.10.1"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("plan text lacks %q:\n%s", want, text.String())
		}
	}
}
