package dhcpd

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

var t0 = time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)

func testScope() Scope {
	return Scope{
		VLAN: 10, Interface: "vlan10",
		Server: netip.MustParsePrefix("10.0.10.1/24"),
		First:  netip.MustParseAddr("10.0.10.100"), Last: netip.MustParseAddr("10.0.10.102"),
		Lease:  time.Hour,
		Router: netip.MustParseAddr("10.0.10.1"), DNS: []netip.Addr{netip.MustParseAddr("10.0.10.1")},
		Domain: "lab", MTU: 1450, NTP: []netip.Addr{netip.MustParseAddr("10.0.10.1")},
		Hosts: []Host{
			{MAC: "02:00:00:00:00:05", Name: "vm1", Address: netip.MustParseAddr("10.0.10.5")},
			{MAC: "02:00:00:00:00:06", Name: "web"},
		},
	}
}

// msg builds a client's message.
func msg(t *testing.T, typ dhcpv4.MessageType, mac string, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	hw, err := net.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithMessageType(typ), dhcpv4.WithHwAddr(hw)}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func requested(a string) dhcpv4.Modifier {
	return dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP(a)))
}

func serverID(a string) dhcpv4.Modifier {
	return dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP(a)))
}

// lease runs DISCOVER and REQUEST for mac and returns the address
// acknowledged, "" when there was no offer, "NAK" for a refusal.
func lease(t *testing.T, tb *table, sc *Scope, mac string, now time.Time, mods ...dhcpv4.Modifier) string {
	t.Helper()
	offer, _ := tb.handle(sc, msg(t, dhcpv4.MessageTypeDiscover, mac, mods...), now)
	if offer == nil {
		return ""
	}
	if offer.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("answer to DISCOVER is %s", offer.MessageType())
	}
	ack, changed := tb.handle(sc, msg(t, dhcpv4.MessageTypeRequest, mac, requested(offer.YourIPAddr.String()), serverID("10.0.10.1"),
		dhcpv4.WithOption(dhcpv4.OptHostName("Client-"+mac[len(mac)-2:]))), now)
	if ack.MessageType() == dhcpv4.MessageTypeNak {
		return "NAK"
	}
	if !changed {
		t.Error("an ACK did not mark the leases changed (they would not be saved)")
	}
	return ack.YourIPAddr.String()
}

func TestAllocation(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, tb *table, sc *Scope) string
		want string
	}{
		{"fixed lease by MAC", func(t *testing.T, tb *table, sc *Scope) string {
			return lease(t, tb, sc, "02:00:00:00:00:05", t0)
		}, "10.0.10.5"},
		{"known host without address gets the range", func(t *testing.T, tb *table, sc *Scope) string {
			return lease(t, tb, sc, "02:00:00:00:00:06", t0)
		}, "10.0.10.100"},
		{"unknown clients get distinct addresses", func(t *testing.T, tb *table, sc *Scope) string {
			return lease(t, tb, sc, "02:aa:00:00:00:01", t0) + " " + lease(t, tb, sc, "02:aa:00:00:00:02", t0)
		}, "10.0.10.100 10.0.10.101"},
		{"two discovers at once get distinct offers", func(t *testing.T, tb *table, sc *Scope) string {
			a, _ := tb.handle(sc, msg(t, dhcpv4.MessageTypeDiscover, "02:aa:00:00:00:01"), t0)
			b, _ := tb.handle(sc, msg(t, dhcpv4.MessageTypeDiscover, "02:aa:00:00:00:02"), t0)
			return a.YourIPAddr.String() + " " + b.YourIPAddr.String()
		}, "10.0.10.100 10.0.10.101"},
		{"requested address when free", func(t *testing.T, tb *table, sc *Scope) string {
			return lease(t, tb, sc, "02:aa:00:00:00:01", t0, requested("10.0.10.102"))
		}, "10.0.10.102"},
		{"requested address outside the range is not given", func(t *testing.T, tb *table, sc *Scope) string {
			return lease(t, tb, sc, "02:aa:00:00:00:01", t0, requested("10.0.10.50"))
		}, "10.0.10.100"},
		{"returning client gets its address after expiry", func(t *testing.T, tb *table, sc *Scope) string {
			lease(t, tb, sc, "02:aa:00:00:00:01", t0)
			lease(t, tb, sc, "02:aa:00:00:00:02", t0)
			return lease(t, tb, sc, "02:aa:00:00:00:02", t0.Add(3*time.Hour))
		}, "10.0.10.101"},
		{"full range: no offer", func(t *testing.T, tb *table, sc *Scope) string {
			for _, m := range []string{"02:aa:00:00:00:01", "02:aa:00:00:00:02", "02:aa:00:00:00:03"} {
				lease(t, tb, sc, m, t0)
			}
			return lease(t, tb, sc, "02:aa:00:00:00:04", t0)
		}, ""},
		{"full range: the longest expired is reused", func(t *testing.T, tb *table, sc *Scope) string {
			lease(t, tb, sc, "02:aa:00:00:00:01", t0.Add(time.Minute))
			lease(t, tb, sc, "02:aa:00:00:00:02", t0)
			lease(t, tb, sc, "02:aa:00:00:00:03", t0.Add(2*time.Minute))
			return lease(t, tb, sc, "02:aa:00:00:00:04", t0.Add(2*time.Hour))
		}, "10.0.10.101"},
		{"request for another client's address: NAK", func(t *testing.T, tb *table, sc *Scope) string {
			lease(t, tb, sc, "02:aa:00:00:00:01", t0)
			r, _ := tb.handle(sc, msg(t, dhcpv4.MessageTypeRequest, "02:aa:00:00:00:02", requested("10.0.10.100")), t0)
			return r.MessageType().String()
		}, "NAK"},
		{"request for another host's fixed address: NAK", func(t *testing.T, tb *table, sc *Scope) string {
			r, _ := tb.handle(sc, msg(t, dhcpv4.MessageTypeRequest, "02:aa:00:00:00:02", requested("10.0.10.5")), t0)
			return r.MessageType().String()
		}, "NAK"},
		{"fixed host asking for a range address: NAK", func(t *testing.T, tb *table, sc *Scope) string {
			r, _ := tb.handle(sc, msg(t, dhcpv4.MessageTypeRequest, "02:00:00:00:00:05", requested("10.0.10.100")), t0)
			return r.MessageType().String()
		}, "NAK"},
		{"request to another server: silence, offer freed", func(t *testing.T, tb *table, sc *Scope) string {
			tb.handle(sc, msg(t, dhcpv4.MessageTypeDiscover, "02:aa:00:00:00:01"), t0)
			r, _ := tb.handle(sc, msg(t, dhcpv4.MessageTypeRequest, "02:aa:00:00:00:01", requested("10.0.10.100"), serverID("10.0.10.254")), t0)
			if r != nil {
				return "answered"
			}
			return lease(t, tb, sc, "02:aa:00:00:00:02", t0)
		}, "10.0.10.100"},
		{"declined address is skipped", func(t *testing.T, tb *table, sc *Scope) string {
			lease(t, tb, sc, "02:aa:00:00:00:01", t0)
			tb.handle(sc, msg(t, dhcpv4.MessageTypeDecline, "02:aa:00:00:00:01", requested("10.0.10.100")), t0)
			return lease(t, tb, sc, "02:aa:00:00:00:01", t0)
		}, "10.0.10.101"},
		{"released address goes back to the same client first", func(t *testing.T, tb *table, sc *Scope) string {
			lease(t, tb, sc, "02:aa:00:00:00:01", t0)
			tb.handle(sc, msg(t, dhcpv4.MessageTypeRelease, "02:aa:00:00:00:01", dhcpv4.WithClientIP(net.ParseIP("10.0.10.100"))), t0)
			return lease(t, tb, sc, "02:aa:00:00:00:02", t0) + " " + lease(t, tb, sc, "02:aa:00:00:00:01", t0)
		}, "10.0.10.101 10.0.10.100"},
		{"relayed request: silence", func(t *testing.T, tb *table, sc *Scope) string {
			return lease(t, tb, sc, "02:aa:00:00:00:01", t0, dhcpv4.WithGatewayIP(net.ParseIP("192.168.1.1")))
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := testScope()
			if got := tc.run(t, newTable(), &sc); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// The options of an ACK: every one the scope sets, and the router and
// the NTP server only when the scope has them.
func TestReplyOptions(t *testing.T) {
	sc := testScope()
	tb := newTable()
	lease(t, tb, &sc, "02:00:00:00:00:05", t0)
	ack, _ := tb.handle(&sc, msg(t, dhcpv4.MessageTypeRequest, "02:00:00:00:00:05", requested("10.0.10.5")), t0)
	checks := map[string]bool{
		"mask":   net.IP(ack.SubnetMask()).Equal(net.IPv4(255, 255, 255, 0).To4()),
		"router": len(ack.Router()) == 1 && ack.Router()[0].Equal(net.ParseIP("10.0.10.1")),
		"dns":    len(ack.DNS()) == 1 && ack.DNS()[0].Equal(net.ParseIP("10.0.10.1")),
		"domain": ack.DomainName() == "lab",
		"lease":  ack.IPAddressLeaseTime(0) == time.Hour,
		"mtu":    string(ack.Options.Get(dhcpv4.OptionInterfaceMTU)) == "\x05\xaa",
		"server": ack.ServerIdentifier().Equal(net.ParseIP("10.0.10.1")),
		"ntp":    len(ack.NTPServers()) == 1 && ack.NTPServers()[0].Equal(net.ParseIP("10.0.10.1")),
	}
	for k, ok := range checks {
		if !ok {
			t.Errorf("option %s wrong in\n%s", k, ack.Summary())
		}
	}
	sc.Router, sc.NTP = netip.Addr{}, nil
	ack, _ = tb.handle(&sc, msg(t, dhcpv4.MessageTypeRequest, "02:00:00:00:00:05", requested("10.0.10.5")), t0)
	if len(ack.Router()) != 0 || ack.Options.Has(dhcpv4.OptionNTPServers) {
		t.Errorf("router sent without nat, or NTP without serving: %v %v", ack.Router(), ack.NTPServers())
	}
}

// Leases survive a new Server on the same directory, the saved file is
// the only thing in it, and names resolve from them.
func TestLeasesPersist(t *testing.T) {
	dir := t.TempDir()
	sc := testScope()
	s, _ := New(Options{Dir: dir, Now: func() time.Time { return t0 }})
	s.scopes[10] = &sc
	for _, m := range []string{"02:00:00:00:00:05", "02:00:00:00:00:06", "02:aa:00:00:00:01"} {
		s.mu.Lock()
		lease(t, s.t, &sc, m, t0)
		s.saveLocked()
		s.mu.Unlock()
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(names) != 1 || filepath.Base(names[0]) != LeasesFile {
		t.Errorf("directory holds %v, want only %s", names, LeasesFile)
	}

	s2, _ := New(Options{Dir: dir, Now: func() time.Time { return t0.Add(time.Minute) }})
	s2.scopes[10] = &sc
	got := s2.Leases()
	if len(got) != 3 {
		t.Fatalf("reloaded %d leases, want 3: %+v", len(got), got)
	}
	for _, c := range []struct{ name, want string }{{"vm1", "10.0.10.5"}, {"web", "10.0.10.100"}, {"client-01", "10.0.10.101"}} {
		if a := s2.Lookup(c.name); len(a) != 1 || a[0].String() != c.want {
			t.Errorf("Lookup(%s) = %v, want %s", c.name, a, c.want)
		}
	}
	// The client that had .101 gets it back from the reloaded table.
	s2.mu.Lock()
	if got := lease(t, s2.t, &sc, "02:aa:00:00:00:01", t0.Add(2*time.Hour)); got != "10.0.10.101" {
		t.Errorf("returning client got %s after a restart, want 10.0.10.101", got)
	}
	s2.mu.Unlock()

	// A damaged file is left for a person and the server starts empty.
	os.WriteFile(filepath.Join(dir, LeasesFile), []byte("{"), 0o600)
	var logged []string
	s3, _ := New(Options{Dir: dir, Logf: func(f string, a ...any) { logged = append(logged, f) }})
	if len(s3.Leases()) != 0 || len(logged) != 1 {
		t.Errorf("damaged file: %d leases, %d log lines", len(s3.Leases()), len(logged))
	}
	if b, _ := os.ReadFile(filepath.Join(dir, LeasesFile)); string(b) != "{" {
		t.Error("the damaged file was overwritten at start")
	}
}

// A client cannot take a workload's name with its host name option.
func TestLookupConfigNamesWin(t *testing.T) {
	sc := testScope()
	s, _ := New(Options{Now: func() time.Time { return t0 }})
	s.scopes[10] = &sc
	s.mu.Lock()
	tb := s.t
	offer, _ := tb.handle(&sc, msg(t, dhcpv4.MessageTypeDiscover, "02:aa:00:00:00:09"), t0)
	tb.handle(&sc, msg(t, dhcpv4.MessageTypeRequest, "02:aa:00:00:00:09", requested(offer.YourIPAddr.String()),
		dhcpv4.WithOption(dhcpv4.OptHostName("web"))), t0)
	tb.handle(&sc, msg(t, dhcpv4.MessageTypeDiscover, "02:aa:00:00:00:08"), t0)
	s.mu.Unlock()
	if a := s.Lookup("web"); len(a) != 0 {
		t.Errorf("a client's host name took the workload name web: %v", a)
	}
	// Positive control: the same client under a free name resolves.
	s.mu.Lock()
	tb.handle(&sc, msg(t, dhcpv4.MessageTypeRequest, "02:aa:00:00:00:09", requested(offer.YourIPAddr.String()),
		dhcpv4.WithOption(dhcpv4.OptHostName("other"))), t0)
	s.mu.Unlock()
	if a := s.Lookup("other"); len(a) != 1 {
		t.Errorf("Lookup(other) = %v", a)
	}
}
