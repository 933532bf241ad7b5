package box

import (
	"context"
	"crypto/tls"
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/netcfg/dhcpd"
	"github.com/nucbox/nucbox/netcfg/dnsd"
	"github.com/nucbox/nucbox/netcfg/ntpd"
	"github.com/nucbox/nucbox/netcfg/pxed"
	"github.com/nucbox/nucbox/netcfg/radvd"
	"github.com/nucbox/nucbox/netcfg/timesync"
)

// serveStage runs the box's DHCP, DNS and NTP servers and its IPv6 router
// adverts on its VLANs from d.DHCP, d.DNS, d.NTP and d.RA. It comes after
// the network stage, whose VLAN interfaces the servers bind to and whose
// status names the uplink's link and resolvers. The NTP server answers
// from clock, which the time stage syncs after this one: until then it
// tells its clients the box is not synced. A server that cannot start is a
// warning, not a failed boot: the box and its workloads run without it,
// and the log and the status say so.
type serveStage struct {
	log logger
	// dir keeps the leases: the data partition's, empty without one.
	dir string
	net *networkStage
	// clock is the box's NTP client; nil answers as never synced.
	clock *timesync.Clock
	// bundle finds the box's own kernel and initramfs for the boot
	// server, cert the certificate its configs are served with.
	bundle func() (pxed.Bundle, error)
	cert   func(stateDir, hostname string) (tls.Certificate, error)

	mu   sync.Mutex
	dhcp *dhcpd.Server
	dns  *dnsd.Server
	ntp  *ntpd.Server
	ra   *radvd.Server
	pxe  *pxed.Server
	// boxAddrs are the box's VLAN addresses, never used as upstreams.
	boxAddrs []netip.Addr
	// hostname and stateDir are the applied config's, for the
	// certificate of the boot server.
	hostname, stateDir string
}

func (*serveStage) Name() string { return plan.StageServe }

func (s *serveStage) Apply(ctx context.Context, d *plan.Desired) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(d.RA.Links) > 0 && s.ra == nil {
		s.ra = radvd.New(radvd.Options{Logf: s.log.Printf})
	}
	if s.ra != nil {
		if err := s.ra.Apply(d.RA); err != nil {
			s.log.Printf("warning: %v", err)
		}
		for _, l := range d.RA.Links {
			s.log.Printf("router adverts on %s (VLAN %d): prefix %s%s", l.Interface, l.VLAN, l.Prefix.Masked(), dnsText(l.DNS))
		}
	}
	if len(d.DHCP.Scopes) == 0 && len(d.DNS.Listen) == 0 && len(d.NTP.Listen) == 0 && !d.PXE.Enabled() && s.dhcp == nil {
		return nil
	}
	if s.dhcp == nil {
		dir := ""
		if s.dir != "" {
			dir = filepath.Join(s.dir, "dhcpd")
		}
		s.pxe = pxed.New(pxed.Options{Logf: s.log.Printf, Bundle: s.bundle, Cmdline: rackCmdline(),
			Cert: s.certFor})
		srv, err := dhcpd.New(dhcpd.Options{Dir: dir, Logf: s.log.Printf, BootOptions: s.pxe.BootOptions})
		if err != nil {
			return err
		}
		s.dhcp = srv
		s.dns = dnsd.New(dnsd.Options{Logf: s.log.Printf, Lookup: srv.Lookup, Upstreams: s.upstreams})
		s.ntp = ntpd.New(ntpd.Options{Logf: s.log.Printf, Upstream: s.ntpUpstream})
	}
	s.boxAddrs = s.boxAddrs[:0]
	for _, a := range d.Switch.Addresses {
		s.boxAddrs = append(s.boxAddrs, a.Prefix.Addr())
	}
	link := ""
	if st := s.net.status(); st != nil {
		link = st.Link
	}
	if err := s.dhcp.Apply(d.DHCP, link); err != nil {
		s.log.Printf("warning: %v", err)
	}
	if err := s.dns.Apply(d.DNS); err != nil {
		s.log.Printf("warning: %v", err)
	}
	if err := s.ntp.Apply(d.NTP); err != nil {
		s.log.Printf("warning: %v", err)
	}
	s.hostname, s.stateDir = d.Hostname, d.StateDir
	if err := s.pxe.Apply(d.PXE, link); err != nil {
		s.log.Printf("warning: %v", err)
	}
	for _, sc := range d.DHCP.Scopes {
		iface := sc.Interface
		if iface == "" {
			iface = link
		}
		s.log.Printf("dhcp on %s (VLAN %d): %s-%s, %d known host(s), lease %s", iface, sc.VLAN, sc.First, sc.Last, len(sc.Hosts), sc.Lease)
	}
	if len(d.DNS.Listen) > 0 {
		var at []string
		for _, l := range d.DNS.Listen {
			at = append(at, l.Address.Addr().String())
		}
		s.log.Printf("dns for .%s on %s", d.DNS.Domain, strings.Join(at, ", "))
	}
	if len(d.NTP.Listen) > 0 {
		var at []string
		for _, l := range d.NTP.Listen {
			at = append(at, l.Address.Addr().String())
		}
		s.log.Printf("ntp on %s", strings.Join(at, ", "))
	}
	return nil
}

// ntpUpstream is what the box's NTP client knows, for its NTP server.
func (s *serveStage) ntpUpstream() ntpd.Upstream {
	if s.clock == nil {
		return ntpd.Upstream{}
	}
	st := s.clock.Status()
	return ntpd.Upstream{Synced: st.Synced, Stratum: st.Stratum, Addr: st.Addr, At: st.At,
		RTT: st.RTT, RootDelay: st.RootDelay, RootDispersion: st.RootDispersion}
}

// ntpServing are the NTP server's bound addresses and its replies so
// far, for the status; none without time.serve.
func (s *serveStage) ntpServing() ([]string, int64) {
	s.mu.Lock()
	srv := s.ntp
	s.mu.Unlock()
	if srv == nil {
		return nil, 0
	}
	var out []string
	for _, l := range srv.Serving() {
		out = append(out, l.Address.Addr().String()+" on "+l.Interface)
	}
	return out, srv.Answered()
}

// upstreams are the uplink's resolvers as the network stage has them
// (the lease's and the config's), without the box's own addresses.
func (s *serveStage) upstreams() []netip.Addr {
	st := s.net.status()
	if st == nil {
		return nil
	}
	s.mu.Lock()
	own := slices.Clone(s.boxAddrs)
	s.mu.Unlock()
	var out []netip.Addr
	for _, a := range st.DNS {
		if a.Is4() && !slices.Contains(own, a) && !a.IsLoopback() {
			out = append(out, a)
		}
	}
	return out
}

// Stop stops the servers; the leases stay saved.
func (s *serveStage) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dhcp != nil {
		s.dhcp.Close()
		s.dns.Close()
		s.ntp.Close()
		s.pxe.Close()
	}
	if s.ra != nil {
		s.ra.Close()
	}
	return nil
}

// certFor is the API's certificate for the config being applied; the
// boot server asks for it from within Apply, under s.mu.
func (s *serveStage) certFor() (tls.Certificate, error) {
	if s.cert == nil {
		return tls.Certificate{}, errors.New("no certificate")
	}
	return s.cert(s.stateDir, s.hostname)
}

// pxeStatus is the boot server's status, nil when the box is none.
func (s *serveStage) pxeStatus() *pxed.Status {
	s.mu.Lock()
	p := s.pxe
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.Status()
}

// leases are the DHCP server's leases for the API.
func (s *serveStage) leases() []api.ServedLease {
	s.mu.Lock()
	srv := s.dhcp
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	now := time.Now()
	var out []api.ServedLease
	for _, l := range srv.Leases() {
		out = append(out, api.ServedLease{VLAN: l.VLAN, MAC: l.MAC, Address: l.Address.String(), Name: l.Name,
			Hostname: l.Hostname, Fixed: l.Fixed, Expires: l.Expires, Active: l.Active(now)})
	}
	return out
}

func dnsText(dns []netip.Addr) string {
	if len(dns) == 0 {
		return ""
	}
	var out []string
	for _, a := range dns {
		out = append(out, a.String())
	}
	return ", DNS " + strings.Join(out, ", ")
}
