package netcfg

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// kernel is a netlink handle that counts its mutating calls, so each
// caller (one Apply, the DHCP client) can say how much it changed.
type kernel struct {
	h *netlink.Handle
	n *atomic.Int64
}

func (k kernel) mut(f func() error) error {
	k.n.Add(1)
	return f()
}

func (k kernel) link(name string) (netlink.Link, error) {
	l, err := k.h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("link %s: %w", name, err)
	}
	return l, nil
}

// addrs are the IPv4 addresses of global scope: the ones nucbox manages.
// Link-local and host-scope addresses are the kernel's or someone else's.
func (k kernel) addrs(l netlink.Link) ([]netlink.Addr, error) {
	all, err := k.h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", l.Attrs().Name, err)
	}
	var out []netlink.Addr
	for _, a := range all {
		if a.Scope == unix.RT_SCOPE_UNIVERSE {
			out = append(out, a)
		}
	}
	return out, nil
}

// routes are the IPv4 routes of the main table through l that an address
// did not create (the kernel re-creates those with the address).
func (k kernel) routes(l netlink.Link) ([]netlink.Route, error) {
	all, err := k.h.RouteList(l, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("routes of %s: %w", l.Attrs().Name, err)
	}
	var out []netlink.Route
	for _, r := range all {
		if r.Protocol != unix.RTPROT_KERNEL && r.Table == unix.RT_TABLE_MAIN {
			out = append(out, r)
		}
	}
	return out, nil
}

func (k kernel) addrAdd(l netlink.Link, a netlink.Addr) error {
	a.Label = ""
	err := k.mut(func() error { return k.h.AddrAdd(l, &a) })
	if errors.Is(err, syscall.EEXIST) {
		return nil
	}
	return err
}

func (k kernel) addrDel(l netlink.Link, a netlink.Addr) error {
	a.Label = ""
	err := k.mut(func() error { return k.h.AddrDel(l, &a) })
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		return nil // expired or removed meanwhile: the goal is reached
	}
	return err
}

// sameAddr compares addresses by what identifies them, not lifetimes.
func sameAddr(a, b netlink.Addr) bool {
	return a.IPNet.String() == b.IPNet.String()
}

// routeKey identifies a route for the kernel (table, destination,
// priority, TOS) plus its path, so a moved route differs from the old one.
func routeKey(r netlink.Route) string {
	dst := "default"
	if r.Dst != nil {
		dst = r.Dst.String()
	}
	return fmt.Sprintf("%d %s via %s dev %d metric %d tos %d", r.Table, dst, r.Gw, r.LinkIndex, r.Priority, r.Tos)
}

func prefixOf(n *net.IPNet) netip.Prefix {
	if n == nil {
		return netip.Prefix{}
	}
	a, _ := netip.AddrFromSlice(n.IP)
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func addrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// defaultRoute is the route nucbox gives the box: default via gw on l.
func defaultRoute(l netlink.Link, gw netip.Addr, proto netlink.RouteProtocol) netlink.Route {
	return netlink.Route{
		LinkIndex: l.Attrs().Index,
		Gw:        gw.AsSlice(),
		Table:     unix.RT_TABLE_MAIN,
		Protocol:  proto,
		Scope:     netlink.SCOPE_UNIVERSE,
	}
}

func isDefault(r netlink.Route) bool {
	if r.Dst == nil {
		return true
	}
	ones, _ := r.Dst.Mask.Size()
	return ones == 0
}

// ensureDefault makes the default route of l go via gw (or vanish when gw
// is invalid), touching nothing when it already does. RouteReplace moves
// a default route that sits on another link in one atomic step.
func (k kernel) ensureDefault(l netlink.Link, gw netip.Addr, proto netlink.RouteProtocol) error {
	rs, err := k.routes(l)
	if err != nil {
		return err
	}
	found := false
	for _, r := range rs {
		if !isDefault(r) {
			continue
		}
		if gw.IsValid() && addrOf(r.Gw) == gw && r.Priority == 0 && !found {
			found = true
			continue
		}
		if err := k.mut(func() error { return k.h.RouteDel(&r) }); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("delete route %s: %w", routeKey(r), err)
		}
	}
	if found || !gw.IsValid() {
		return nil
	}
	r := defaultRoute(l, gw, proto)
	if err := k.mut(func() error { return k.h.RouteReplace(&r) }); err != nil {
		return fmt.Errorf("default route via %s dev %s: %w", gw, l.Attrs().Name, err)
	}
	return nil
}

// ensureOnly makes want the only managed IPv4 address of l. A present
// address whose lifetime is shorter than want's (a renewed lease) is
// replaced in place, which keeps its routes.
func (k kernel) ensureOnly(l netlink.Link, want netlink.Addr) error {
	have, err := k.addrs(l)
	if err != nil {
		return err
	}
	found := false
	var stale []netlink.Addr
	for _, a := range have {
		if !sameAddr(a, want) {
			stale = append(stale, a)
			continue
		}
		found = true
		if want.ValidLft > 0 && a.ValidLft+5 < want.ValidLft {
			w := want
			if err := k.mut(func() error { return k.h.AddrReplace(l, &w) }); err != nil {
				return fmt.Errorf("refresh %s on %s: %w", want.IPNet, l.Attrs().Name, err)
			}
		}
	}
	// Add before removing, so a changed address never leaves the box
	// without one.
	if !found {
		if err := k.addrAdd(l, want); err != nil {
			return fmt.Errorf("add %s to %s: %w", want.IPNet, l.Attrs().Name, err)
		}
	}
	for _, a := range stale {
		if err := k.addrDel(l, a); err != nil {
			return fmt.Errorf("remove %s from %s: %w", a.IPNet, l.Attrs().Name, err)
		}
	}
	return nil
}
