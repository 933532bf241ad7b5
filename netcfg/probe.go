package netcfg

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// probeInterval is the retry period: well under a second, because the
// first request after a move can be lost while the bridge port comes up,
// and a one-second retry would add a second to the outage.
const probeInterval = 100 * time.Millisecond

// probe checks that target answers through link within timeout. ARP to
// the next hop is the check that depends least on the far end (no
// firewall drops ARP); a target behind a gateway also gets an ICMP echo
// once the gateway has answered.
func (m *Manager) probe(ctx context.Context, link string, target netip.Addr, timeout time.Duration) *ProbeResult {
	start := time.Now()
	res := &ProbeResult{Link: link, Target: target, NextHop: target, Method: "arp"}
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
	var src netip.Addr
	if rs, err := m.h.RouteGet(target.AsSlice()); err == nil && len(rs) > 0 {
		if rs[0].Gw != nil {
			res.NextHop, res.Method = addrOf(rs[0].Gw), "arp+icmp"
		}
		src = addrOf(rs[0].Src)
	}
	k := kernel{h: m.h}
	addrs, err := k.addrs(l)
	if err != nil {
		return fail(err)
	}
	for _, a := range addrs {
		if p := prefixOf(a.IPNet); p.Contains(res.NextHop) || !src.IsValid() {
			src = p.Addr()
		}
	}
	if !src.IsValid() {
		return fail(fmt.Errorf("%s has no IPv4 address", link))
	}
	ifi := &net.Interface{Index: l.Attrs().Index, Name: link, HardwareAddr: l.Attrs().HardwareAddr, MTU: l.Attrs().MTU}
	n, err := m.arpProbe(ctx, ifi, src, res.NextHop)
	res.Attempts = n
	if err != nil {
		return fail(fmt.Errorf("no ARP reply from %s on %s after %d requests: %w", res.NextHop, link, n, err))
	}
	if res.NextHop != target {
		n, err := m.icmpProbe(ctx, src, target)
		res.Attempts += n
		if err != nil {
			return fail(fmt.Errorf("no echo reply from %s: %w", target, err))
		}
	}
	res.OK, res.Elapsed = true, time.Since(start)
	return res
}

// arpProbe sends an ARP request for ip every probeInterval until a reply
// comes or ctx ends, and returns the number of requests sent.
func (m *Manager) arpProbe(ctx context.Context, ifi *net.Interface, src, ip netip.Addr) (int, error) {
	var c *packet.Conn
	err := m.ns.Do(func() (err error) {
		c, err = packet.Listen(ifi, packet.Datagram, unix.ETH_P_ARP, nil)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("ARP socket on %s: %w", ifi.Name, err)
	}
	defer c.Close()
	req := arpRequest(ifi.HardwareAddr, src, ip)
	bcast := &packet.Addr{HardwareAddr: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	buf := make([]byte, 1500)
	return askUntil(ctx, c,
		func() error { _, err := c.WriteTo(req, bcast); return err },
		func() (bool, error) {
			n, _, err := c.ReadFrom(buf)
			return err == nil && isARPReply(buf[:n], ip), err
		})
}

func arpRequest(mac net.HardwareAddr, src, dst netip.Addr) []byte {
	b := make([]byte, 28)
	binary.BigEndian.PutUint16(b[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(b[2:], 0x0800) // IPv4
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:], 1) // request
	copy(b[8:], mac)
	s, d := src.As4(), dst.As4()
	copy(b[14:], s[:])
	copy(b[24:], d[:])
	return b
}

func isARPReply(b []byte, from netip.Addr) bool {
	if len(b) < 28 || binary.BigEndian.Uint16(b[6:]) != 2 {
		return false
	}
	return netip.AddrFrom4([4]byte(b[14:18])) == from
}

// icmpProbe sends echo requests from src to dst every probeInterval until
// one is answered or ctx ends.
func (m *Manager) icmpProbe(ctx context.Context, src, dst netip.Addr) (int, error) {
	var c *icmp.PacketConn
	err := m.ns.Do(func() (err error) {
		c, err = icmp.ListenPacket("ip4:icmp", src.String())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("ICMP socket: %w", err)
	}
	defer c.Close()
	id, seq := os.Getpid()&0xffff, 0
	buf := make([]byte, 1500)
	return askUntil(ctx, c,
		func() error {
			seq++
			msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("nucbox probe")}}
			wb, err := msg.Marshal(nil)
			if err == nil {
				_, err = c.WriteTo(wb, &net.IPAddr{IP: dst.AsSlice()})
			}
			return err
		},
		func() (bool, error) {
			n, peer, err := c.ReadFrom(buf)
			if err != nil {
				return false, err
			}
			rm, err := icmp.ParseMessage(1, buf[:n])
			if err != nil || rm.Type != ipv4.ICMPTypeEchoReply {
				return false, nil
			}
			e, ok := rm.Body.(*icmp.Echo)
			return ok && e.ID == id && peer.String() == dst.String(), nil
		})
}

// askUntil sends a request every probeInterval and reads answers in
// between until one matches or ctx ends; it returns the requests sent.
func askUntil(ctx context.Context, c interface{ SetReadDeadline(time.Time) error }, send func() error, answered func() (bool, error)) (int, error) {
	for sent := 0; ; {
		if err := expired(ctx); err != nil {
			return sent, err
		}
		if err := send(); err != nil {
			return sent, err
		}
		sent++
		next := time.Now().Add(probeInterval)
		if d, ok := ctx.Deadline(); ok && d.Before(next) {
			next = d
		}
		_ = c.SetReadDeadline(next)
		for {
			ok, err := answered()
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil || ok {
				return sent, err
			}
		}
	}
}

// expired is ctx.Err that does not wait for the context's timer: a socket
// deadline set to the context's deadline can pass a moment before the
// timer fires, and the loop must not spin in between.
func expired(ctx context.Context) error {
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return ctx.Err()
}
