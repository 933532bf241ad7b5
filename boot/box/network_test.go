package box

import (
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/netcfg"
)

func takenOver() netcfg.Status {
	mac, _ := net.ParseMAC("52:54:00:12:34:56")
	gw := netip.MustParseAddr("10.0.2.2")
	return netcfg.Status{
		Uplink: "eth0", UplinkMAC: mac, Bridge: "br0", Link: "br0",
		Addresses: []netip.Prefix{netip.MustParsePrefix("10.0.2.15/24")},
		Gateway:   gw,
		Lease:     &netcfg.Lease{Address: netip.MustParsePrefix("10.0.2.15/24"), Server: gw},
		LeaseWait: 43 * time.Millisecond,
		Takeover:  &netcfg.Takeover{Moved: 12 * time.Millisecond, Outage: 340 * time.Millisecond},
		Probe:     &netcfg.ProbeResult{Target: gw, Method: "arp", OK: true, Attempts: 2, Elapsed: 150 * time.Millisecond},
	}
}

// The console lines are what a human reads at boot; each case pins the
// facts they must state.
func TestLogNetcfg(t *testing.T) {
	rolled := takenOver()
	rolled.Bridge, rolled.Link = "", "eth0"
	rolled.Probe = &netcfg.ProbeResult{Target: netip.MustParseAddr("10.0.2.77"), Error: "no ARP reply"}
	rolled.Rollback = &netcfg.Rollback{Reason: "no ARP reply", Restored: "eth0", Reachable: true}
	static := takenOver()
	static.Lease = nil
	for _, tc := range []struct {
		name string
		st   netcfg.Status
		spec netcfg.Spec
		want []string
	}{
		{"dhcp", takenOver(), netcfg.Spec{IPv4: netcfg.IPv4{DHCP: true}}, []string{
			"network: uplink eth0 (52:54:00:12:34:56) carrier up",
			"network: lease 10.0.2.15/24 from 10.0.2.2 after 43 ms, gateway 10.0.2.2, moved to br0 in 12 ms, 10.0.2.2 reachable (arp, 2 attempt(s)), outage 340 ms",
		}},
		{"static", static, netcfg.Spec{}, []string{"network: static address 10.0.2.15/24, gateway 10.0.2.2, moved to br0"}},
		{"rollback", rolled, netcfg.Spec{}, []string{"ROLLED BACK: no ARP reply; address back on eth0, reachable there"}},
		{"no probe", static, netcfg.Spec{Probe: netcfg.Probe{Disabled: true}}, []string{"moved to br0 in 12 ms, probe disabled"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := &testLog{}
			logNetcfg(logger{logf: buf.logf, prefix: "network: "}, tc.st, tc.spec)
			for _, w := range tc.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("console lacks %q:\n%s", w, buf)
				}
			}
		})
	}
}

func TestNetworkSummaryJSON(t *testing.T) {
	s := summarize(takenOver(), netcfg.Spec{IPv4: netcfg.IPv4{DHCP: true}})
	b, err := json.Marshal(Summary{Network: s})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`"uplink":"eth0"`, `"bridge":"br0"`, `"addresses":["10.0.2.15/24"]`,
		`"gateway":"10.0.2.2"`, `"outage_ms":340`, `"probe":{"target":"10.0.2.2","method":"arp","ok":true`,
		`"lease_server":"10.0.2.2"`} {
		if !strings.Contains(string(b), w) {
			t.Errorf("summary lacks %s: %s", w, b)
		}
	}
	if strings.Contains(string(b), "rollback") {
		t.Errorf("rollback in a summary without one: %s", b)
	}
}
