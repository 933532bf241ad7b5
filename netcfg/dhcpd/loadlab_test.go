package dhcpd

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/ci"
	"github.com/nucbox/nucbox/test/dhcpload"
	"github.com/nucbox/nucbox/test/syncbuf"
	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// loadLab is a box namespace serving DHCP on its link s0 (10.0.10.1/24)
// and a client namespace cabled to it by eth0, where the simulated
// clients of package dhcpload run.
type loadLab struct {
	box, client *netnstest.NS
}

func newLoadLab(tb testing.TB) *loadLab {
	tb.Helper()
	l := &loadLab{box: netnstest.New(tb, "lbox"), client: netnstest.New(tb, "lcli")}
	netnstest.Veth(tb, l.client, "eth0", l.box, "s0", true)
	l.client.Up(tb, "eth0")
	l.box.AddAddr(tb, "s0", "10.0.10.1/24")
	return l
}

// loadScope serves first-last with hour-long leases and the box as the
// router: what dnsmasq's --dhcp-range gives its clients.
func loadScope(first, last string) Scope {
	return Scope{VLAN: 10, Interface: "s0", Server: netip.MustParsePrefix("10.0.10.1/24"),
		First: netip.MustParseAddr(first), Last: netip.MustParseAddr(last), Lease: time.Hour,
		Router: netip.MustParseAddr("10.0.10.1")}
}

// serveOurs starts a fresh server of sc, leases kept in a new directory
// as on the data partition, its log in a buffer as the box's log.
func (l *loadLab) serveOurs(tb testing.TB, sc Scope) *Server {
	tb.Helper()
	var log syncbuf.Buffer
	s, err := New(Options{Dir: tb.TempDir(), Logf: func(f string, a ...any) { fmt.Fprintf(&log, f+"\n", a...) }})
	if err != nil {
		tb.Fatal(err)
	}
	if err := l.box.Namespace().Do(func() error { return s.Apply(Spec{Scopes: []Scope{sc}}, "") }); err != nil {
		s.Close()
		tb.Fatal(err)
	}
	return s
}

// serveDNSMasq starts a fresh dnsmasq with sc's range and lease time: no
// DNS (--port=0), authoritative, leases in a new directory, logging to
// its output as the box's server does, and no ping before an offer,
// since the box's server does not ping either.
func (l *loadLab) serveDNSMasq(tb testing.TB, sc Scope) *netnstest.Proc {
	tb.Helper()
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		ci.Missing(tb, "dnsmasq not installed (Debian package dnsmasq-base; make deps installs it)")
	}
	dir := tb.TempDir()
	mask := net.IP(net.CIDRMask(sc.Server.Bits(), 32)).String()
	p := l.box.Start(tb, bin,
		"--keep-in-foreground", "--log-facility=-",
		"--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=0",
		"--user=root", "--pid-file="+filepath.Join(dir, "pid"),
		"--interface="+sc.Interface, "--bind-interfaces", "--dhcp-authoritative", "--no-ping",
		fmt.Sprintf("--dhcp-range=%s,%s,%s,%ds", sc.First, sc.Last, mask, int(sc.Lease.Seconds())),
		"--dhcp-leasefile="+filepath.Join(dir, "leases"))
	p.WaitFor(tb, "DHCP, IP range", 5*time.Second)
	return p
}

// load runs o's clients from the client namespace.
func (l *loadLab) load(tb testing.TB, o dhcpload.Options) dhcpload.Result {
	tb.Helper()
	var conn net.PacketConn
	err := l.client.Namespace().Do(func() (err error) {
		conn, err = dhcpload.Open("eth0")
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return dhcpload.Run(conn, o)
}
