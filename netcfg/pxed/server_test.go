package pxed

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// testServer is a Server with a spec and bundle in place, as Apply
// leaves them, without its sockets.
func testServer(t *testing.T) (*Server, Spec) {
	t.Helper()
	dir := t.TempDir()
	bundle, configs := filepath.Join(dir, "bundle"), filepath.Join(dir, "racks")
	for _, d := range []string{bundle, configs} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(bundle, KernelName), "kernel bytes")
	write(filepath.Join(bundle, InitrdName), "initramfs bytes")
	write(filepath.Join(configs, "52:54:00:00:00:01.yaml"), "hostname: rack-1\n")
	write(filepath.Join(configs, "52:54:00:00:00:01.yaml.sig"), "sig")
	write(filepath.Join(dir, "secret.yaml"), "not served\n")
	spec := Spec{VLAN: 30, Interface: "vlan30", Server: netip.MustParsePrefix("10.0.30.1/24"), Configs: configs, Bundle: bundle}
	s := New(Options{Cmdline: "console=ttyS0", Logf: t.Logf, Now: func() time.Time { return time.Unix(1000, 0) }})
	b, err := s.findBundle(spec)
	if err != nil {
		t.Fatal(err)
	}
	script, err := Script(b.Cmdline, spec.Server.Addr(), strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	s.spec, s.bundle, s.script, s.run = spec, b, script, &listeners{cancel: func() {}}
	return s, spec
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.RemoteAddr = "10.0.30.101:40000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

// The configs server hands out a machine's config and signature by its
// MAC, 404 for an unknown MAC (which lists the machine as waiting for a
// config), and nothing outside the directory or under another name.
func TestConfigHandler(t *testing.T) {
	s, _ := testServer(t)
	h := s.configHandler()
	if code, body := get(t, h, "/configs/52:54:00:00:00:01.yaml"); code != 200 || body != "hostname: rack-1\n" {
		t.Errorf("known MAC: %d %q", code, body)
	}
	if code, body := get(t, h, "/configs/52:54:00:00:00:01.yaml.sig"); code != 200 || body != "sig" {
		t.Errorf("signature: %d %q", code, body)
	}
	if code, _ := get(t, h, "/configs/52:54:00:00:00:02.yaml"); code != 404 {
		t.Errorf("unknown MAC: %d, want 404", code)
	}
	for _, p := range []string{"/configs/../secret.yaml", "/configs/%2e%2e%2fsecret.yaml", "/configs/secret.yaml",
		"/configs/52:54:00:00:00:01", "/configs/52-54-00-00-00-01.yaml", "/configs/52:54:00:00:00:0A.yaml", "/secret.yaml"} {
		if code, body := get(t, h, p); code != 404 || strings.Contains(body, "served") {
			t.Errorf("%s: %d %q, want 404", p, code, body)
		}
	}
	ms := s.machines.list()
	if len(ms) != 2 || ms[0].MAC != "52:54:00:00:00:01" || !ms[0].Config || ms[1].MAC != "52:54:00:00:00:02" || ms[1].Config || !ms[1].Asked ||
		ms[1].Address != "10.0.30.101" || ms[1].Via != "config" {
		t.Errorf("machines %+v", ms)
	}
}

// The bundle server serves the script, the kernel and the initramfs and
// nothing else; without a whole bundle, none of them.
func TestBundleHandler(t *testing.T) {
	s, spec := testServer(t)
	h := s.bundleHandler()
	code, script := get(t, h, "/boot.ipxe")
	want := "kernel http://10.0.30.1/vmlinuz console=ttyS0 BOOTIF=01-${mac:hexhyp} nucbox.config.cert-sha256=" + strings.Repeat("ab", 32) +
		" nucbox.config=https://10.0.30.1:8444/configs/${mac}.yaml initrd=initramfs\ninitrd http://10.0.30.1/initramfs\n"
	if code != 200 || !strings.Contains(script, want) {
		t.Errorf("script: %d\n%s\nwant it to hold\n%s", code, script, want)
	}
	if code, body := get(t, h, "/vmlinuz"); code != 200 || body != "kernel bytes" {
		t.Errorf("kernel: %d %q", code, body)
	}
	if code, body := get(t, h, "/initramfs"); code != 200 || body != "initramfs bytes" {
		t.Errorf("initramfs: %d %q", code, body)
	}
	for _, p := range []string{"/", "/racks/52:54:00:00:00:01.yaml", "/../racks/52:54:00:00:00:01.yaml", "/bundle/vmlinuz"} {
		if code, _ := get(t, h, p); code != 404 {
			t.Errorf("%s: %d, want 404", p, code)
		}
	}
	for _, c := range []struct {
		what    string
		breakIt func(string) error
	}{{"an empty initramfs", func(p string) error { return os.Truncate(p, 0) }}, {"no initramfs", os.Remove}} {
		what := c.what
		if err := c.breakIt(filepath.Join(spec.Bundle, InitrdName)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.findBundle(spec); err == nil || !strings.Contains(err.Error(), "no initramfs there") {
			t.Errorf("%s: %v", what, err)
		}
	}
}

func pxeRequest(t *testing.T, typ dhcpv4.MessageType, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	mac, _ := net.ParseMAC("52:54:00:00:00:07")
	req, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(typ)}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

var (
	pxeClass  = dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001"))
	ipxeClass = dhcpv4.WithOption(dhcpv4.OptUserClass("iPXE"))
	efiArch   = dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64))
)

// proxyDHCP answers boot firmware with the boot server and file and no
// address, and nothing else: not a client that is no PXE client, not a
// message that is no discover or request.
func TestProxyReply(t *testing.T) {
	server := netip.MustParseAddr("10.0.30.1")
	none := func(string) bool { return false }
	r := proxyReply(pxeRequest(t, dhcpv4.MessageTypeDiscover, pxeClass, ipxeClass), server, none)
	if r == nil {
		t.Fatal("no answer to iPXE's discover")
	}
	if r.MessageType() != dhcpv4.MessageTypeOffer || !r.YourIPAddr.Equal(net.IPv4zero) || !r.ServerIPAddr.Equal(net.ParseIP("10.0.30.1")) ||
		r.BootFileNameOption() != ScriptName || r.ClassIdentifier() != "PXEClient" || !r.ServerIdentifier().Equal(net.ParseIP("10.0.30.1")) ||
		r.TFTPServerName() != "10.0.30.1" {
		t.Errorf("offer: %s", r.Summary())
	}
	if r.Options.Has(ipxeEncap) {
		t.Errorf("a proxy's offer tells iPXE to ignore proxy offers: %s", r.Summary())
	}
	if r := proxyReply(pxeRequest(t, dhcpv4.MessageTypeRequest, pxeClass, ipxeClass), server, none); r == nil || r.MessageType() != dhcpv4.MessageTypeAck {
		t.Errorf("request on 4011: %v", r)
	}
	for name, req := range map[string]*dhcpv4.DHCPv4{
		"not a PXE client": pxeRequest(t, dhcpv4.MessageTypeDiscover, ipxeClass),
		"a release":        pxeRequest(t, dhcpv4.MessageTypeRelease, pxeClass),
	} {
		if r := proxyReply(req, server, none); r != nil {
			t.Errorf("%s: answered %s", name, r.Summary())
		}
	}
	// A PXE ROM that is not iPXE gets a loader of iPXE for its
	// architecture when the bundle has one.
	has := func(n string) bool { return n == EFILoader }
	if f := bootFile(pxeRequest(t, dhcpv4.MessageTypeDiscover, pxeClass, efiArch), has); f != EFILoader {
		t.Errorf("EFI ROM: %q", f)
	}
	if f := bootFile(pxeRequest(t, dhcpv4.MessageTypeDiscover, pxeClass), has); f != ScriptName {
		t.Errorf("BIOS ROM without its loader: %q", f)
	}
}

// With the box's own leases, its DHCP server adds the boot options on
// the served VLAN only, to boot firmware only, and only while a bundle
// is there to boot.
func TestBootOptions(t *testing.T) {
	s, _ := testServer(t)
	apply := func(vlan int, req *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
		r, _ := dhcpv4.NewReplyFromRequest(req, s.BootOptions(vlan, req)...)
		return r
	}
	if r := apply(30, pxeRequest(t, dhcpv4.MessageTypeDiscover, pxeClass, ipxeClass)); r.BootFileNameOption() != ScriptName || !r.ServerIPAddr.Equal(net.ParseIP("10.0.30.1")) ||
		string(r.Options.Get(ipxeEncap)) != string(noProxyDHCP) {
		t.Errorf("iPXE on VLAN 30: %s", r.Summary())
	}
	// A PXE ROM that is not iPXE knows nothing of iPXE's options.
	if r := apply(30, pxeRequest(t, dhcpv4.MessageTypeDiscover, pxeClass)); r.Options.Has(ipxeEncap) || r.BootFileNameOption() != ScriptName {
		t.Errorf("PXE ROM on VLAN 30: %s", r.Summary())
	}
	if len(s.machines.list()) != 1 {
		t.Errorf("the client was not recorded: %v", s.machines.list())
	}
	if o := s.BootOptions(31, pxeRequest(t, dhcpv4.MessageTypeDiscover, pxeClass)); o != nil {
		t.Error("boot options on another VLAN")
	}
	if o := s.BootOptions(30, pxeRequest(t, dhcpv4.MessageTypeDiscover)); o != nil {
		t.Error("boot options for a client that is no boot firmware")
	}
	s.bundleErr = os.ErrNotExist
	if o := s.BootOptions(30, pxeRequest(t, dhcpv4.MessageTypeDiscover, pxeClass)); o != nil {
		t.Error("boot options without a bundle")
	}
}

func TestRackCmdline(t *testing.T) {
	got := RackCmdline("console=tty0 console=ttyS0,115200 panic=10 nucbox.config=/x nucbox.config.sha256=ab BOOTIF=01-aa initrd=initramfs BOOT_IMAGE=/v quiet")
	if want := "console=tty0 console=ttyS0,115200 panic=10 quiet"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// The certificate pin is the SHA-256 of the leaf's DER.
func TestCertPin(t *testing.T) {
	s := New(Options{Cert: func() (tls.Certificate, error) { return tls.Certificate{Certificate: [][]byte{[]byte("der")}}, nil }})
	pin, err := s.certPin()
	if err != nil || pin != "5050d80d22ecd471ea55df7034042c1e041341ff4066e7f6ff38e20b720df8ea" {
		t.Errorf("pin %q, %v", pin, err)
	}
	if _, err := New(Options{}).certPin(); err == nil {
		t.Error("a pin without a certificate")
	}
}
