package plan

import (
	"bytes"
	"net/netip"
	"regexp"
	"slices"
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

// time.serve: NTP on every internal VLAN address (VLAN 20 has no DHCP
// scope, VLAN 30 is carried to the lab network and gets nothing), UDP
// 123 open on those VLANs only, and option 42 in the scope of a served
// VLAN; without serve (the control) none of it.
func TestCompileServeNTP(t *testing.T) {
	base := strings.Replace(serveConfig, "  addresses:\n", "  vlans: [30]\n  addresses:\n    - {vlan: 30, address: 10.0.30.1/24}\n", 1)
	for _, serve := range []bool{false, true} {
		cfg := base
		if serve {
			cfg += "time: {serve: true}\n"
		}
		c, err := config.Parse("box.yaml", []byte(cfg))
		if err != nil {
			t.Fatal(err)
		}
		p, err := Compile(c)
		if err != nil {
			t.Fatal(err)
		}
		d := p.Desired
		var listen []string
		for _, l := range d.NTP.Listen {
			listen = append(listen, l.Interface+" "+l.Address.String())
		}
		want := ""
		if serve {
			want = "vlan10 10.0.10.1/24, vlan20 10.0.20.1/24"
		}
		if got := strings.Join(listen, ", "); got != want {
			t.Errorf("serve %v: ntp listens on %q, want %q", serve, got, want)
		}
		for _, s := range d.Firewall.Segments {
			open := slices.Contains(s.UDP, 123)
			if want := serve && s.Interface != "vlan30"; open != want {
				t.Errorf("serve %v: firewall segment %s udp %v", serve, s.Interface, s.UDP)
			}
		}
		if sc := d.DHCP.Scopes[0]; serve != (len(sc.NTP) == 1 && sc.NTP[0] == sc.Server.Addr()) || (!serve && len(sc.NTP) > 0) {
			t.Errorf("serve %v: scope's ntp %v", serve, sc.NTP)
		}
		var text bytes.Buffer
		p.WriteText(&text)
		if got := regexp.MustCompile(`time ntp server\n +listen: +10\.0\.10\.1 on vlan10, 10\.0\.20\.1 on vlan20 \(udp 123\)`).MatchString(text.String()); got != serve {
			t.Errorf("serve %v: plan text:\n%s", serve, text.String())
		}
	}
}
