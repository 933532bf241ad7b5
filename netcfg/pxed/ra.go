package pxed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/mdlayher/ndp"

	"github.com/nucbox/nucbox/netcfg/radvd"
)

// bootingFor is how long after its boot options a machine counts as
// booting, for the router advert below.
const bootingFor = 5 * time.Minute

// iPXE configures IPv6 beside DHCP and waits for a router's advert
// before it boots, about 15 s under TCG on a segment without a router.
// The boot server answers the router solicitation of a machine it just
// sent boot options, and only that machine's, with an advert to it
// alone that says nothing: no prefix, no router (lifetime 0), no DHCPv6.
// Nobody else on the segment hears it, and a host that does takes
// nothing from it.
func (s *Server) serveRA(ctx context.Context, link string) error {
	ifi, err := net.InterfaceByName(link)
	if err != nil {
		return err
	}
	c, err := radvd.ListenSolicitations(ifi)
	if err != nil {
		// No IPv6 on the link: iPXE waits, and boots all the same.
		return fmt.Errorf("router solicitations on %s: %w", link, err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	ra := nothingAdvert(ifi.HardwareAddr)
	// iPXE solicits at once, when it has not asked for boot options yet:
	// the advert goes out with the boot options too, unasked.
	s.mu.Lock()
	s.advertise = func(mac string) {
		if dst := linkLocalOf(mac); dst.IsValid() {
			c.WriteTo(ra, nil, dst)
		}
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.advertise = nil
		s.mu.Unlock()
	}()
	for {
		m, _, src, err := c.ReadFrom()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			continue
		case err != nil:
			return err
		}
		rs, ok := m.(*ndp.RouterSolicitation)
		if !ok || !s.booting(solicitorMAC(rs, src)) {
			continue
		}
		if err := c.WriteTo(ra, nil, src); err != nil {
			s.o.Logf("pxe: advert to %s: %v", src, err)
		}
	}
}

// nothingAdvert is a router advert that configures nothing.
func nothingAdvert(mac net.HardwareAddr) *ndp.RouterAdvertisement {
	ra := &ndp.RouterAdvertisement{CurrentHopLimit: 64, RouterLifetime: 0}
	if len(mac) == 6 {
		ra.Options = []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: mac}}
	}
	return ra
}

// solicitorMAC is the MAC of a solicitation's sender: its source
// link-layer option, else the one in its EUI-64 link-local address.
func solicitorMAC(rs *ndp.RouterSolicitation, src netip.Addr) string {
	for _, o := range rs.Options {
		if l, ok := o.(*ndp.LinkLayerAddress); ok && l.Direction == ndp.Source && len(l.Addr) == 6 {
			return l.Addr.String()
		}
	}
	b := src.As16()
	if !src.Is6() || !src.IsLinkLocalUnicast() || b[11] != 0xff || b[12] != 0xfe {
		return ""
	}
	return net.HardwareAddr{b[8] ^ 2, b[9], b[10], b[13], b[14], b[15]}.String()
}

// linkLocalOf is the EUI-64 link-local address of mac, as iPXE forms it.
func linkLocalOf(mac string) netip.Addr {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		return netip.Addr{}
	}
	return netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 8: hw[0] ^ 2, 9: hw[1], 10: hw[2], 11: 0xff, 12: 0xfe, 13: hw[3], 14: hw[4], 15: hw[5]}).WithZone("")
}

// advertiseTo sends the advert to mac unasked, when the loop runs.
func (s *Server) advertiseTo(mac string) {
	s.mu.Lock()
	send := s.advertise
	s.mu.Unlock()
	if send != nil {
		send(mac)
	}
}

// booting reports whether mac was sent boot options a moment ago.
func (s *Server) booting(mac string) bool {
	if mac == "" {
		return false
	}
	s.machines.mu.Lock()
	defer s.machines.mu.Unlock()
	m := s.machines.m[mac]
	return m != nil && !m.booted.IsZero() && s.o.Now().Sub(m.booted) < bootingFor
}
