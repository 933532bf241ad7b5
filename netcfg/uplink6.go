package netcfg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// v6Addr is the IPv6 address nucbox put on the link holding the box's
// address (a static one or a DHCPv6 lease's) and, static only, its
// default router: what a takeover moves onto the bridge and a rollback
// puts back. Addresses the kernel makes from router adverts (SLAAC) are
// the kernel's: the bridge, with the uplink's MAC, makes the same ones.
type v6Addr struct {
	link string
	addr netip.Prefix
	gw   netip.Addr
	// valid and preferred are a lease's lifetimes; 0 is forever.
	valid, preferred time.Duration
}

func (a v6Addr) on(link string) v6Addr {
	a.link = link
	return a
}

// putV6 makes want the box's managed IPv6 address, adding it (and its
// default route) before it removes the previous one, so that a move
// never leaves the box without one. The zero want removes it.
func (m *Manager) putV6(k kernel, want v6Addr) error {
	m.v6mu.Lock()
	defer m.v6mu.Unlock()
	old := m.v6
	if want.link != "" && want.addr.IsValid() {
		l, err := k.link(want.link)
		if err != nil {
			return err
		}
		if err := k.ensureAddr6(l, want); err != nil {
			return err
		}
		if want.gw.IsValid() {
			if err := k.ensureDefault6(l, want.gw); err != nil {
				return err
			}
		}
	}
	if old.link != "" && old.addr.IsValid() {
		if l, err := k.h.LinkByName(old.link); err == nil {
			if old.gw.IsValid() && (old.link != want.link || old.gw != want.gw) {
				r := defaultRoute(l, old.gw, unix.RTPROT_STATIC)
				if err := k.mut(func() error { return k.h.RouteDel(&r) }); err != nil && !errors.Is(err, syscall.ESRCH) {
					return fmt.Errorf("delete IPv6 default route via %s: %w", old.gw, err)
				}
			}
			if old.link != want.link || old.addr != want.addr {
				if err := k.addrDel(l, netlink.Addr{IPNet: ipNet(old.addr)}); err != nil {
					return fmt.Errorf("remove %s from %s: %w", old.addr, old.link, err)
				}
			}
		}
	}
	m.v6 = want
	return nil
}

// current6 is the managed IPv6 address as it is now.
func (m *Manager) current6() v6Addr {
	m.v6mu.Lock()
	defer m.v6mu.Unlock()
	return m.v6
}

// ensureAddr6 adds a to l, or refreshes a lease's lifetimes, touching
// nothing when it is there already.
func (k kernel) ensureAddr6(l netlink.Link, a v6Addr) error {
	have, err := k.h.AddrList(l, netlink.FAMILY_V6)
	if err != nil {
		return fmt.Errorf("IPv6 addresses of %s: %w", l.Attrs().Name, err)
	}
	want := netlink.Addr{IPNet: ipNet(a.addr)}
	if a.valid > 0 {
		want.ValidLft, want.PreferedLft = int(a.valid/time.Second), int(a.preferred/time.Second)
	}
	for _, h := range have {
		if !sameAddr(h, want) {
			continue
		}
		// A tenth's slack spares the kernel a write per renewal of a
		// long lease; a short one is refreshed each time.
		if want.ValidLft == 0 || h.ValidLft >= want.ValidLft-want.ValidLft/10 {
			return nil
		}
		return k.mut(func() error { return k.h.AddrReplace(l, &want) })
	}
	if err := k.mut(func() error { return k.h.AddrReplace(l, &want) }); err != nil {
		return fmt.Errorf("add %s to %s: %w", a.addr, l.Attrs().Name, err)
	}
	return nil
}

// ensureDefault6 makes the IPv6 default route through l go via gw.
func (k kernel) ensureDefault6(l netlink.Link, gw netip.Addr) error {
	rs, err := k.h.RouteList(l, netlink.FAMILY_V6)
	if err != nil {
		return fmt.Errorf("IPv6 routes of %s: %w", l.Attrs().Name, err)
	}
	for _, r := range rs {
		if isDefault(r) && addrOf(r.Gw) == gw && r.Table == unix.RT_TABLE_MAIN {
			return nil
		}
	}
	r := defaultRoute(l, gw, unix.RTPROT_STATIC)
	if err := k.mut(func() error { return k.h.RouteReplace(&r) }); err != nil {
		return fmt.Errorf("IPv6 default route via %s dev %s: %w", gw, l.Attrs().Name, err)
	}
	return nil
}

// applyIPv6 brings the box's IPv6 on link to spec's: a static address
// and router, a DHCPv6 client, or neither (SLAAC, off), whose addresses
// the kernel makes as the firewall's sysctls let it. It reports whether
// anything changed.
func (m *Manager) applyIPv6(k kernel, spec Spec, link string) (bool, error) {
	before := k.n.Load()
	mode := spec.IPv6.Mode
	if mode != IPv6DHCP && m.dhcp6 != nil {
		// The box stops using its lease: the server gets it back, and
		// the address goes below.
		m.dhcp6.stop(false)
		m.dhcp6.giveBack()
		m.setDHCP6(nil)
	}
	switch mode {
	case IPv6Static:
		err := m.putV6(k, v6Addr{link: link, addr: spec.IPv6.Address, gw: spec.IPv6.Gateway})
		return k.n.Load() != before, err
	case IPv6DHCP:
		c := m.dhcp6
		if c == nil {
			if cur := m.current6(); cur.link != "" {
				// A static address before: DHCPv6 takes over from it.
				if err := m.putV6(k, v6Addr{}); err != nil {
					return true, err
				}
			}
			c = newDHCP6Client(m, m.macOf(link))
			m.setDHCP6(c)
			c.start(link)
			return true, nil
		}
		if c.running() != link {
			c.stop(false)
			if cur := m.current6(); cur.link != "" && cur.link != link {
				if err := m.putV6(k, cur.on(link)); err != nil {
					return true, err
				}
			}
			c.start(link)
			return true, nil
		}
		return false, nil
	default:
		if cur := m.current6(); cur.link != "" {
			err := m.putV6(k, v6Addr{})
			return true, err
		}
		return false, nil
	}
}

func (m *Manager) macOf(link string) net.HardwareAddr {
	if l, err := m.h.LinkByName(link); err == nil {
		return l.Attrs().HardwareAddr
	}
	return nil
}

func (m *Manager) setDHCP6(c *dhcp6Client) {
	m.stMu.Lock()
	m.dhcp6 = c
	m.stMu.Unlock()
}

// moveV6 follows the takeover (or its rollback) onto link: the managed
// address moves, and a DHCPv6 client carries on there with its lease.
func (m *Manager) moveV6(k kernel, link string) error {
	c := m.dhcp6
	if c != nil {
		c.stop(false)
	}
	var err error
	if cur := m.current6(); cur.link != "" && cur.link != link {
		err = m.putV6(k, cur.on(link))
	}
	if c != nil {
		c.start(link)
	}
	return err
}

// probe6Target is the IPv6 router a change is checked against: the
// static one. The takeover also checks the router the uplink learnt from
// adverts (raRouter6); after it, that router is learnt again on the
// bridge only with its next advert.
func probe6Target(spec Spec) netip.Addr {
	if spec.IPv6.Mode == IPv6Static && !spec.Probe.Disabled {
		return spec.IPv6.Gateway
	}
	return netip.Addr{}
}

// raRouter6 is the IPv6 router the uplink learnt from router adverts, if
// the box takes its IPv6 routes from them (SLAAC, DHCPv6): the gateway of
// link's default route of protocol ra. Probing it from the bridge checks
// the IPv6 path through the bridge as the IPv4 probe checks IPv4's.
func (k kernel) raRouter6(link, mode string) netip.Addr {
	if mode != IPv6SLAAC && mode != "" && mode != IPv6DHCP {
		return netip.Addr{}
	}
	l, err := k.h.LinkByName(link)
	if err != nil {
		return netip.Addr{}
	}
	rs, err := k.h.RouteList(l, netlink.FAMILY_V6)
	if err != nil {
		return netip.Addr{}
	}
	for _, r := range rs {
		if isDefault(r) && r.Gw != nil && r.Table == unix.RT_TABLE_MAIN && r.Protocol == unix.RTPROT_RA {
			return addrOf(r.Gw)
		}
	}
	return netip.Addr{}
}

// fill6 records the box's global IPv6 addresses and IPv6 router on link.
func (m *Manager) fill6(k kernel, link string, st *Status) error {
	l, err := k.link(link)
	if err != nil {
		return err
	}
	as, err := k.h.AddrList(l, netlink.FAMILY_V6)
	if err != nil {
		return err
	}
	st.IPv6 = nil
	for _, a := range as {
		// Site-local (fec0::/10, deprecated, but what QEMU's user
		// network advertises) counts as the lab's address too.
		if a.Scope != unix.RT_SCOPE_LINK && a.Scope != unix.RT_SCOPE_HOST {
			st.IPv6 = append(st.IPv6, prefixOf(a.IPNet))
		}
	}
	rs, err := k.h.RouteList(l, netlink.FAMILY_V6)
	if err != nil {
		return err
	}
	st.Gateway6 = netip.Addr{}
	for _, r := range rs {
		if isDefault(r) && r.Gw != nil && r.Table == unix.RT_TABLE_MAIN {
			st.Gateway6 = addrOf(r.Gw)
		}
	}
	return nil
}

// probe6After checks the IPv6 router after a change on link, if there is
// one to check.
func (m *Manager) probe6After(ctx context.Context, spec Spec, link string, st *Status) bool {
	target := probe6Target(spec)
	if !target.IsValid() {
		return true
	}
	st.Probe6 = m.probe6(ctx, link, target, spec.Probe.Timeout)
	return st.Probe6.OK
}
