package pxed

import (
	"crypto/tls"
	"net"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"

	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// Real sockets in namespaces: boot firmware on the served link gets a
// proxyDHCP offer naming the box and the script, without an address; a
// client there that is no boot firmware gets nothing (the offer to the
// firmware is the positive control), nor does boot firmware on another
// link of the box.
func TestProxyDHCPOverVeth(t *testing.T) {
	box, cs := netnstest.Star(t, "p",
		netnstest.Spoke{Link: "s30", BoxAddr: "10.0.30.1/24"},
		netnstest.Spoke{Link: "s40", BoxAddr: "10.0.40.1/24"})
	c30, c40 := cs[0], cs[1]
	dir := t.TempDir()
	for _, n := range []string{KernelName, InitrdName} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tlsSrv := httptest.NewTLSServer(nil)
	cert := tlsSrv.TLS.Certificates[0]
	tlsSrv.Close()
	s := New(Options{Logf: t.Logf, Cmdline: "console=ttyS0", Cert: func() (tls.Certificate, error) { return cert, nil }})
	defer s.Close()
	spec := Spec{VLAN: 30, Interface: "s30", Server: netip.MustParsePrefix("10.0.30.1/24"), ProxyDHCP: true, Configs: dir, Bundle: dir}
	if err := box.Namespace().Do(func() error { return s.Apply(spec, "") }); err != nil {
		t.Fatal(err)
	}

	discover := func(c *netnstest.NS, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
		t.Helper()
		var conn net.PacketConn
		if err := c.Namespace().Do(func() (err error) {
			conn, err = server4.NewIPv4UDPConn("eth0", &net.UDPAddr{Port: dhcpv4.ClientPort})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		mac, _ := net.ParseMAC("52:54:00:00:30:01")
		req, err := dhcpv4.NewDiscovery(mac, mods...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.WriteTo(req.ToBytes(), &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort}); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 1500)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return nil
			}
			if r, err := dhcpv4.FromBytes(buf[:n]); err == nil && r.TransactionID == req.TransactionID && r.OpCode == dhcpv4.OpcodeBootReply {
				return r
			}
		}
	}
	r := discover(c30, pxeClass, ipxeClass)
	if r == nil || r.MessageType() != dhcpv4.MessageTypeOffer || r.BootFileNameOption() != ScriptName ||
		!r.ServerIPAddr.Equal(net.ParseIP("10.0.30.1")) || !r.YourIPAddr.IsUnspecified() {
		t.Fatalf("boot firmware on the served link: %v", r)
	}
	if r := discover(c30); r != nil {
		t.Errorf("a client that is no boot firmware got %s", r.Summary())
	}
	if r := discover(c40, pxeClass, ipxeClass); r != nil {
		t.Errorf("boot firmware on another link got %s", r.Summary())
	}
	if ms := s.machines.list(); len(ms) != 1 || ms[0].MAC != "52:54:00:00:30:01" || ms[0].Via != "dhcp" {
		t.Errorf("machines %+v", ms)
	}
}
