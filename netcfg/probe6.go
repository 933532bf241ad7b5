package netcfg

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// probe6 checks that the IPv6 router target answers neighbour
// solicitations through link within timeout: IPv6's ARP. The
// solicitation is sent from the unspecified address, as duplicate
// address detection does, on a packet socket: the box's own addresses on
// the link are still tentative for a second or two after a move (the
// kernel checks them for duplicates) and the kernel would send from none
// of them. The router answers to all nodes.
func (m *Manager) probe6(ctx context.Context, link string, target netip.Addr, timeout time.Duration) *ProbeResult {
	start := time.Now()
	res := &ProbeResult{Link: link, Target: target, NextHop: target, Method: "ndp"}
	fail := func(err error) *ProbeResult {
		res.Error, res.Elapsed = err.Error(), time.Since(start)
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	l, err := m.h.LinkByName(link)
	if err != nil {
		return fail(err)
	}
	ifi := &net.Interface{Index: l.Attrs().Index, Name: link, HardwareAddr: l.Attrs().HardwareAddr, MTU: l.Attrs().MTU}
	var c *packet.Conn
	err = m.ns.Do(func() (err error) {
		c, err = packet.Listen(ifi, packet.Datagram, unix.ETH_P_IPV6, nil)
		return err
	})
	if err != nil {
		return fail(fmt.Errorf("IPv6 packet socket on %s: %w", link, err))
	}
	defer c.Close()
	target = target.WithZone("")
	ns, group := neighborSolicitation(target)
	t := group.As16()
	dst := &packet.Addr{HardwareAddr: net.HardwareAddr{0x33, 0x33, t[12], t[13], t[14], t[15]}}
	buf := make([]byte, 1500)
	n, err := askUntil(ctx, c,
		func() error { _, err := c.WriteTo(ns, dst); return err },
		func() (bool, error) {
			n, _, err := c.ReadFrom(buf)
			return err == nil && isNeighborAdvert(buf[:n], target), err
		})
	res.Attempts = n
	if err != nil {
		return fail(fmt.Errorf("no neighbour advert from %s on %s after %d solicitations: %w", target, link, n, err))
	}
	res.OK, res.Elapsed = true, time.Since(start)
	return res
}

// neighborSolicitation is the IPv6 packet asking for target from the
// unspecified address (RFC 4861 4.3, no source link-layer option, as RFC
// 4862 5.4.2 has it), and the solicited-node group it goes to.
func neighborSolicitation(target netip.Addr) ([]byte, netip.Addr) {
	t := target.As16()
	group := netip.AddrFrom16([16]byte{0xff, 0x02, 10: 0, 11: 0x01, 12: 0xff, 13: t[13], 14: t[14], 15: t[15]})
	b := make([]byte, 40+24)
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], 24)
	b[6], b[7] = unix.IPPROTO_ICMPV6, 255
	g := group.As16()
	copy(b[24:40], g[:]) // source :: stays zero
	icmp := b[40:]
	icmp[0] = 135
	copy(icmp[8:], t[:])
	binary.BigEndian.PutUint16(icmp[2:], icmp6Checksum(b[8:24], b[24:40], icmp))
	return b, group
}

// icmp6Checksum is the ICMPv6 checksum over the IPv6 pseudo-header.
func icmp6Checksum(src, dst, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src)
	add(dst)
	var pseudo [8]byte
	binary.BigEndian.PutUint32(pseudo[0:], uint32(len(msg)))
	pseudo[7] = unix.IPPROTO_ICMPV6
	add(pseudo[:])
	add(msg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// isNeighborAdvert tells whether the IPv6 packet b is a neighbour advert
// for target, sent with hop limit 255 (from the link itself).
func isNeighborAdvert(b []byte, target netip.Addr) bool {
	if len(b) < 40+24 || b[0]>>4 != 6 || b[6] != unix.IPPROTO_ICMPV6 || b[7] != 255 || b[40] != 136 {
		return false
	}
	return netip.AddrFrom16([16]byte(b[48:64])) == target
}
