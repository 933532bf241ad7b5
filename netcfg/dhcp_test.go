package netcfg

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/ci"
	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// startDNSMasq serves DHCP on the lab's LAN with the shortest lease
// dnsmasq allows (2 minutes) and T1/T2 of 2 s/4 s, so the client renews
// within seconds.
func startDNSMasq(t *testing.T, l *lab, dir string) (p *netnstest.Proc, leases string) {
	t.Helper()
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		ci.Missing(t, "dnsmasq not installed (Debian package dnsmasq-base; make deps installs it)")
	}
	leases = filepath.Join(dir, "leases")
	p = l.lan.Start(t, bin,
		"--keep-in-foreground", "--log-facility=-", "--log-dhcp",
		"--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=0",
		"--user=root", "--pid-file="+filepath.Join(dir, "pid"),
		"--interface=lan0", "--bind-interfaces", "--dhcp-authoritative",
		// Offers come at once instead of after a 3 s ping of the address.
		"--no-ping",
		"--dhcp-range=10.99.0.100,10.99.0.150,255.255.255.0,2m",
		"--dhcp-option=option:router,"+gateway,
		"--dhcp-option=option:dns-server,10.99.0.53",
		"--dhcp-option=option:domain-name,lab.test",
		"--dhcp-option=option:T1,2",
		"--dhcp-option=option:T2,4",
		"--dhcp-leasefile="+leases,
	)
	p.WaitFor(t, "DHCP, IP range", 5*time.Second)
	return p, leases
}

func dhcpSpec() Spec {
	s := staticSpec()
	s.IPv4 = IPv4{DHCP: true}
	s.DNS = nil
	return s
}

// The box gets a lease on the uplink, moves it onto the bridge, renews it
// there with the same identity, rebinds when the server was away at T1,
// and releases the lease on Close.
func TestDHCPLeaseRenewalAndTakeover(t *testing.T) {
	l := newLab(t)
	dir := t.TempDir()
	server, leases := startDNSMasq(t, l, dir)
	m := l.manager(t)
	ctx := context.Background()

	st, err := m.Apply(ctx, dhcpSpec())
	if err != nil {
		t.Fatal(err)
	}
	lease := st.Lease
	if lease == nil || !strings.HasPrefix(lease.Address.String(), "10.99.0.1") || lease.Router.String() != gateway {
		t.Fatalf("lease %+v", lease)
	}
	if st.Link != "br0" || st.Takeover == nil || st.Probe == nil || !st.Probe.OK {
		t.Fatalf("status %+v", st)
	}
	t.Logf("lease %s from %s, T1 in %v; takeover outage %v", lease.Address, lease.Server,
		time.Until(lease.T1).Round(time.Millisecond), st.Takeover.Outage)
	if got := l.box.Addrs(t, "br0"); len(got) != 1 || got[0] != lease.Address {
		t.Errorf("br0 addresses %v, want %s", got, lease.Address)
	}
	if got := l.defaultVia(t, "br0"); got != gateway {
		t.Errorf("default route via %q", got)
	}
	if b, _ := os.ReadFile(l.resolv); !strings.Contains(string(b), "nameserver 10.99.0.53") || !strings.Contains(string(b), "search lab.test") {
		t.Errorf("resolv.conf from the lease: %q", b)
	}
	if st2, err := m.Apply(ctx, dhcpSpec()); err != nil || st2.Changes != 0 {
		t.Errorf("second Apply: %d changes, %v", st2.Changes, err)
	}

	// The renewal at T1 happens on the bridge and keeps the address.
	cur := waitLease(t, m, 8*time.Second, "a renewal", func(l *Lease) bool { return l.Renewals > 0 })
	if cur.Link != "br0" || cur.Address != lease.Address {
		t.Errorf("renewed lease %+v, want %s on br0", cur, lease.Address)
	}
	t.Logf("renewed on %s %v after the first lease", cur.Link, cur.Acquired.Sub(lease.Acquired).Round(time.Millisecond))

	// The server is away when the next T1 comes: the renewal goes
	// unanswered, and at T2 the client rebinds with whichever server
	// answers, here the same one back with its lease file.
	server.Stop()
	waitLease(t, m, 8*time.Second, "renewal attempt", func(l *Lease) bool { return l.State == "renewing" })
	time.Sleep(200 * time.Millisecond) // the renewal request is out
	startDNSMasq(t, l, dir)
	cur = waitLease(t, m, 8*time.Second, "a rebind", func(l *Lease) bool { return l.Rebinds > 0 })
	if cur.Address != lease.Address || cur.Link != "br0" {
		t.Errorf("rebound lease %+v, want %s on br0", cur, lease.Address)
	}

	// One lease, with the box's hostname and client identifier, however
	// many links it came through.
	b, err := os.ReadFile(leases)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	mac := st.UplinkMAC.String()
	if len(lines) != 1 || !strings.Contains(lines[0], mac) || !strings.Contains(lines[0], " nuc-test ") ||
		!strings.Contains(lines[0], "01:"+mac) {
		t.Errorf("dnsmasq leases:\n%s\nwant one lease for %s named nuc-test with client id 01:%s", b, mac, mac)
	}

	// Close releases the lease: the server forgets it, the address goes.
	m.Close()
	deadline := time.Now().Add(3 * time.Second)
	for {
		b, _ = os.ReadFile(leases)
		if strings.TrimSpace(string(b)) == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("lease not released: %s", b)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := l.box.Addrs(t, "br0"); len(got) != 0 {
		t.Errorf("br0 keeps %v after release", got)
	}
}

func waitLease(t *testing.T, m *Manager, d time.Duration, what string, ok func(*Lease) bool) *Lease {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		cur := m.Status().Lease
		if cur != nil && ok(cur) {
			return cur
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v: %+v", what, d, cur)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
