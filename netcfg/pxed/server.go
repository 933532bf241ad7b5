package pxed

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"github.com/pin/tftp/v3"

	"github.com/nucbox/nucbox/image/pxe"
	"github.com/nucbox/nucbox/internal/safe"
)

// CertPinParam is the kernel command line parameter the script pins the
// config server's certificate with: the SHA-256 of its DER, in hex.
const CertPinParam = "nucbox.config.cert-sha256"

// Options configure a Server.
type Options struct {
	// Logf prints one line of the box's log.
	Logf func(format string, args ...any)
	// Bundle finds the box's own kernel and initramfs, for a Spec without
	// a bundle directory.
	Bundle func() (Bundle, error)
	// Cmdline is the rack's kernel command line with a bundle directory
	// (Spec.Bundle), where no unified kernel image brings its own.
	Cmdline string
	// Cert is the certificate the configs are served with: the API's.
	Cert func() (tls.Certificate, error)
	// Now is the clock (tests).
	Now func() time.Time
}

// Server is the box's boot server; it serves one Spec at a time.
type Server struct {
	o        Options
	machines *machines

	mu        sync.Mutex
	spec      Spec
	link      string // the served link, as resolved at Apply
	bundle    Bundle
	bundleErr error
	script    []byte
	pin       string
	err       error // why the server does not run, nil when it does
	run       *listeners
	// advertise sends the router advert to a MAC, while its loop runs.
	advertise func(mac string)
}

// New makes a server that serves nothing until Apply.
func New(o Options) *Server {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Bundle == nil {
		o.Bundle = func() (Bundle, error) { return Bundle{}, errors.New("no bundle of the box's own") }
	}
	return &Server{o: o, machines: newMachines(o.Now)}
}

// Apply serves spec on link (the uplink's, for a Spec without an
// Interface). The listeners are kept when the address, link and mode
// did not change; the bundle and the script are found anew. A bundle
// that cannot be had stops the serving of boots, not the box: the
// error is returned, logged and in the status, and no client is told to
// boot from here.
func (s *Server) Apply(spec Spec, link string) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	if spec.Interface != "" {
		link = spec.Interface
	}
	if !spec.Enabled() {
		s.Close()
		s.mu.Lock()
		s.spec, s.err = Spec{}, nil
		s.mu.Unlock()
		return nil
	}
	b, berr := s.findBundle(spec)
	var script []byte
	pin, cerr := s.certPin()
	if berr == nil && cerr != nil {
		berr = fmt.Errorf("certificate for the configs: %w", cerr)
	}
	if berr == nil {
		script, berr = Script(b.Cmdline, spec.Server.Addr(), pin)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := s.run != nil && s.spec.Server == spec.Server && s.link == link && s.spec.ProxyDHCP == spec.ProxyDHCP
	if !keep && s.run != nil {
		s.run.stop()
		s.run = nil
	}
	s.spec, s.link, s.bundle, s.bundleErr, s.script, s.pin = spec, link, b, berr, script, pin
	if berr != nil {
		s.err = fmt.Errorf("not serving network boots on %s: %w", linkName(link), berr)
		return s.err
	}
	if !keep {
		r, err := s.start(spec, link)
		if err != nil {
			s.err = fmt.Errorf("pxe on %s: %w", linkName(link), err)
			return s.err
		}
		s.run = r
	}
	s.err = nil
	mode := "the box's DHCP leases"
	if spec.ProxyDHCP {
		mode = "proxyDHCP"
	}
	s.o.Logf("pxe: serving network boots on %s (VLAN %d) from %s with %s: %s; configs from %s",
		linkName(link), spec.VLAN, spec.Server.Addr(), mode, b.Source, spec.Configs)
	return nil
}

func linkName(l string) string {
	if l == "" {
		return "the uplink"
	}
	return l
}

// Script is the iPXE script a rack machine runs: the kernel and
// initramfs over HTTP from server, its config by MAC over HTTPS, the
// certificate pinned by its SHA-256 (pin), and BOOTIF naming the NIC
// that booted, so that the machine fetches its config and runs
// maintenance mode on that one.
func Script(cmdline string, server netip.Addr, pin string) ([]byte, error) {
	args := strings.Fields(cmdline)
	args = append(args, "BOOTIF=01-${mac:hexhyp}", CertPinParam+"="+pin)
	return pxe.Script{
		Cmdline:   strings.Join(args, " "),
		ConfigURL: fmt.Sprintf("https://%s:%d%s${mac}.yaml", server, ConfigPort, configsPrefix),
		Base:      fmt.Sprintf("http://%s/", server),
	}.Bytes()
}

// RackCmdline is the rack's kernel command line from the box's own: the
// console and kernel settings stay, what names this box's config, boot
// NIC or boot loader goes.
func RackCmdline(own string) string {
	var out []string
	for _, w := range strings.Fields(own) {
		k, _, _ := strings.Cut(w, "=")
		switch {
		case strings.HasPrefix(k, "nucbox.config"), k == "BOOTIF", k == "initrd", k == "BOOT_IMAGE", k == "nucbox.ntp":
			continue
		}
		out = append(out, w)
	}
	return strings.Join(out, " ")
}

// findBundle is spec's bundle directory, or the box's own; either must
// hold both the kernel and the initramfs.
func (s *Server) findBundle(spec Spec) (Bundle, error) {
	b := Bundle{Dir: spec.Bundle, Cmdline: s.o.Cmdline, Source: "bundle directory " + spec.Bundle}
	if spec.Bundle == "" {
		var err error
		if b, err = s.o.Bundle(); err != nil {
			return Bundle{}, err
		}
	}
	for _, n := range []string{KernelName, InitrdName} {
		st, err := os.Stat(filepath.Join(b.Dir, n))
		if err != nil || !st.Mode().IsRegular() || st.Size() == 0 {
			return Bundle{}, fmt.Errorf("%s: no %s there (a bundle needs both %s and %s, as nucbox image build --pxe writes them)", b.Source, n, KernelName, InitrdName)
		}
	}
	return b, nil
}

// certPin is the SHA-256 of the config certificate, in hex.
func (s *Server) certPin() (string, error) {
	if s.o.Cert == nil {
		return "", errors.New("none configured")
	}
	c, err := s.o.Cert()
	if err != nil {
		return "", err
	}
	if len(c.Certificate) == 0 {
		return "", errors.New("empty chain")
	}
	sum := sha256.Sum256(c.Certificate[0])
	return hex.EncodeToString(sum[:]), nil
}

// listeners are the sockets of one Apply.
type listeners struct {
	tftp    *tftp.Server
	http    []*http.Server
	cancel  context.CancelFunc
	proxies []net.PacketConn
}

func (r *listeners) stop() {
	r.cancel()
	for _, h := range r.http {
		h.Close()
	}
	for _, c := range r.proxies {
		c.Close()
	}
	if r.tftp != nil {
		// Shutdown waits for the transfers under way; a machine in the
		// middle of one retries.
		safe.Go(func(string, ...any) {}, "tftp shutdown", r.tftp.Shutdown)
	}
}

// start opens every socket of spec on link and serves them, each under
// safe: a panic is logged and PID 1 goes on.
func (s *Server) start(spec Spec, link string) (*listeners, error) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &listeners{cancel: cancel}
	fail := func(err error) (*listeners, error) {
		r.stop()
		return nil, err
	}
	addr := spec.Server.Addr()
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IP(addr.AsSlice()), Port: TFTPPort})
	if err != nil {
		return fail(fmt.Errorf("tftp: %w", err))
	}
	r.tftp = tftp.NewServer(s.tftpRead, nil)
	r.tftp.SetTimeout(2 * time.Second)
	r.tftp.SetBlockSize(1468)
	ts := r.tftp
	safe.Go(s.o.Logf, "pxe tftp", func() { ts.Serve(uc) })

	cert, err := s.o.Cert()
	if err != nil {
		return fail(err)
	}
	for _, h := range []struct {
		port    int
		handler http.Handler
		tls     bool
	}{{HTTPPort, s.bundleHandler(), false}, {ConfigPort, s.configHandler(), true}} {
		ln, err := net.Listen("tcp4", netip.AddrPortFrom(addr, uint16(h.port)).String())
		if err != nil {
			return fail(fmt.Errorf("http: %w", err))
		}
		if h.tls {
			ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		}
		srv := &http.Server{Handler: h.handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
		r.http = append(r.http, srv)
		safe.Go(s.o.Logf, fmt.Sprintf("pxe http :%d", h.port), func() { srv.Serve(ln) })
	}
	safe.Loop(ctx, s.o.Logf, "pxe router adverts on "+link, raBackoff, func(ctx context.Context) error {
		return s.serveRA(ctx, link)
	})
	if spec.ProxyDHCP {
		for _, port := range []int{dhcpv4.ServerPort, ProxyPort} {
			c, err := server4.NewIPv4UDPConn(link, &net.UDPAddr{Port: port})
			if err != nil {
				return fail(fmt.Errorf("proxyDHCP on port %d: %w", port, err))
			}
			r.proxies = append(r.proxies, c)
			safe.Loop(ctx, s.o.Logf, fmt.Sprintf("pxe proxyDHCP :%d", port), safe.DefaultBackoff, func(ctx context.Context) error {
				return s.serveProxy(ctx, c)
			})
		}
	}
	return r, nil
}

// raBackoff spaces the tries of a link without IPv6: iPXE boots without
// the advert, only later.
var raBackoff = safe.Backoff{Min: 10 * time.Second, Max: 10 * time.Minute, Healthy: time.Minute}

// serveProxy answers PXE clients on c until ctx ends or c fails.
func (s *Server) serveProxy(ctx context.Context, c net.PacketConn) error {
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		req, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			continue
		}
		spec := s.current()
		if !s.serving() {
			continue
		}
		r := proxyReply(req, spec.Server.Addr(), s.has)
		if r == nil {
			continue
		}
		s.machines.bootFrom(req.ClientHWAddr.String(), addrOf(req.ClientIPAddr))
		s.advertiseTo(req.ClientHWAddr.String())
		dst := &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort}
		if ua, ok := from.(*net.UDPAddr); ok && r.MessageType() == dhcpv4.MessageTypeAck && !ua.IP.IsUnspecified() {
			dst = ua // a request to 4011 comes from an address, answered there
		}
		if _, err := c.WriteTo(r.ToBytes(), dst); err != nil {
			s.o.Logf("pxe: proxyDHCP answer to %s: %v", req.ClientHWAddr, err)
		}
	}
}

func addrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip.To4())
	return a
}

// current is the Spec served.
func (s *Server) current() Spec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spec
}

// serving reports whether clients may be sent here: the listeners run
// and a whole bundle is there.
func (s *Server) serving() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spec.Enabled() && s.run != nil && s.bundleErr == nil
}

// has reports whether the bundle holds the file name.
func (s *Server) has(name string) bool {
	s.mu.Lock()
	dir := s.bundle.Dir
	s.mu.Unlock()
	if dir == "" {
		return false
	}
	st, err := os.Stat(filepath.Join(dir, name))
	return err == nil && st.Mode().IsRegular()
}

// Close stops every listener; the table of machines stays.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil {
		s.run.stop()
		s.run = nil
	}
}

// Status is the boot server as status shows it.
type Status struct {
	VLAN      int       `json:"vlan"`
	Interface string    `json:"interface,omitempty"`
	Address   string    `json:"address"`
	Mode      string    `json:"mode"`
	Bundle    string    `json:"bundle,omitempty"`
	Configs   string    `json:"configs"`
	Error     string    `json:"error,omitempty"`
	Machines  []Machine `json:"machines,omitempty"`
}

// Status is nil when nothing is served.
func (s *Server) Status() *Status {
	s.mu.Lock()
	spec, link, b, err := s.spec, s.link, s.bundle, s.err
	s.mu.Unlock()
	if !spec.Enabled() {
		return nil
	}
	st := &Status{VLAN: spec.VLAN, Interface: link, Address: spec.Server.Addr().String(), Mode: "dhcp",
		Bundle: b.Source, Configs: spec.Configs, Machines: s.machines.list()}
	if spec.ProxyDHCP {
		st.Mode = "proxyDHCP"
	}
	if err != nil {
		st.Error = err.Error()
	}
	return st
}
