package netcfg

import (
	"net/netip"
	"strings"
	"testing"
)

// TestLeaseNames: what a DHCP server sends as domain, search list and
// host name reaches resolv.conf and the status only as valid DNS names.
func TestLeaseNames(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, tc := range []struct {
		name                 string
		search               []string
		domain, host         string
		wantSearch, wantHost string
		dropped              int
	}{
		{"plain", nil, "lab.example", "rack-1", "lab.example", "rack-1", 0},
		{"fqdn host, trailing dots", nil, "Lab.Example.", "rack-1.lab.example.", "lab.example", "rack-1.lab.example", 0},
		{"several names in option 15", nil, "a.example b.example a.example", "", "a.example b.example", "", 0},
		{"option 119 wins over 15", []string{"x.example", "y.example"}, "z.example", "", "x.example y.example", "", 0},
		{"newline injection in the domain", nil, "lab.example\nnameserver 6.6.6.6", "", "", "", 1},
		{"injection in the host name", nil, "", "evil\nsearch attacker.example", "", "", 1},
		{"option 119 with an injected label", []string{"ok.example", "bad\nnameserver 1.1.1.1"}, "", "", "ok.example", "", 1},
		{"label of 64 characters", nil, long + ".example", "", "", "", 1},
		{"label of 63 characters", nil, long[1:] + ".example", "", long[1:] + ".example", "", 0},
		{"hyphens at the ends", nil, "-lab.example lab-.example l-ab.example", "-host", "l-ab.example", "", 3},
		{"underscores, spaces, empty labels", nil, "lab_x.example a..b .", "my host", "", "", 2},
		{"empty labels", nil, "a..b . ok.example", "", "ok.example", "", 2},
		{"more than 6 domains", nil, "a.x b.x c.x d.x e.x f.x g.x", "", "a.x b.x c.x d.x e.x f.x", "", 1},
		{"over 256 characters", nil, strings.Repeat(strings.Repeat("b", 60)+".example ", 5), "",
			strings.TrimSpace(strings.Repeat(strings.Repeat("b", 60)+".example ", 1)), "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			search, host, dropped := leaseNames(tc.search, tc.domain, tc.host)
			if search != tc.wantSearch || host != tc.wantHost || len(dropped) != tc.dropped {
				t.Errorf("leaseNames = %q, %q, dropped %q; want %q, %q, %d dropped", search, host, dropped, tc.wantSearch, tc.wantHost, tc.dropped)
			}
			conf := string(resolvConf([]netip.Addr{netip.MustParseAddr("10.0.0.1")}, tc.domain+" "+strings.Join(tc.search, " ")))
			for i, l := range strings.Split(strings.TrimSpace(conf), "\n") {
				if i > 0 && !strings.HasPrefix(l, "search ") && !strings.HasPrefix(l, "nameserver ") {
					t.Errorf("resolv.conf line %q", l)
				}
				if strings.HasPrefix(l, "nameserver ") && l != "nameserver 10.0.0.1" {
					t.Errorf("injected %q", l)
				}
			}
		})
	}
}
