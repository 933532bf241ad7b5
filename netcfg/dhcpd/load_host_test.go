package dhcpd

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/dhcpload"
)

// The benchmark's load, small: 20 clients at once, each with its own
// MAC, all get a lease, no address twice, all inside the range, and the
// server's table agrees. The positive control: the same 20 clients on a
// range of 10 addresses, where the check must find 10 clients without a
// lease. The same load against dnsmasq checks the benchmark's baseline.
// About 2 s.
func TestManyClientsGetDistinctLeases(t *testing.T) {
	l := newLoadLab(t)
	const n = 20
	sc := loadScope("10.0.10.10", "10.0.10.250")
	o := dhcpload.Options{Clients: n, InFlight: 16, Timeout: 5 * time.Second}

	s := l.serveOurs(t, sc)
	r := l.load(t, o)
	if err := r.Check(n, sc.First, sc.Last); err != nil {
		t.Errorf("box's server: %v", err)
	}
	table := map[string]netip.Addr{}
	for _, le := range s.Leases() {
		table[le.MAC] = le.Address
	}
	for mac, a := range r.Leases {
		if table[mac] != a {
			t.Errorf("client %s was acknowledged %s, the server's table has %s", mac, a, table[mac])
		}
	}
	if len(table) != len(r.Leases) {
		t.Errorf("server's table has %d leases, clients got %d", len(table), len(r.Leases))
	}
	t.Logf("box's server: %d leases in %v", len(r.Leases), r.Elapsed.Round(time.Millisecond))
	s.Close()

	// Positive control: a range too small for the clients.
	small := loadScope("10.0.10.10", "10.0.10.19")
	s = l.serveOurs(t, small)
	ro := o
	ro.Timeout, ro.Resend = time.Second, 300*time.Millisecond
	r = l.load(t, ro)
	s.Close()
	err := r.Check(n, small.First, small.Last)
	if err == nil || len(r.Failed) != 10 || len(r.Leases) != 10 {
		t.Errorf("20 clients on 10 addresses: %d leases, %d without; check says %v; want 10 and 10 and an error",
			len(r.Leases), len(r.Failed), err)
	}
	// And the check sees one address given twice.
	for mac := range r.Leases {
		r.Leases[mac] = small.First
	}
	if err := r.Check(len(r.Leases)+len(r.Failed), small.First, small.Last); err == nil || !strings.Contains(err.Error(), "given to 10 clients") {
		t.Errorf("one address given to every client: check says %v", err)
	}

	p := l.serveDNSMasq(t, sc)
	r = l.load(t, o)
	p.Stop()
	if err := r.Check(n, sc.First, sc.Last); err != nil {
		t.Errorf("dnsmasq: %v", err)
	}
	t.Logf("dnsmasq: %d leases in %v", len(r.Leases), r.Elapsed.Round(time.Millisecond))
}
