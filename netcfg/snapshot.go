package netcfg

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// l3State is where the box's IPv4 configuration sits: the addresses and
// routes of the uplink and the bridge, and whether the uplink is a port of
// the bridge. The takeover moves from one l3State to another, and a
// rollback moves back to the one captured before.
type l3State struct {
	uplink, bridge string
	enslaved       bool
	index          map[string]int
	addrs          map[string][]netlink.Addr
	routes         map[string][]netlink.Route
}

func (k kernel) capture(uplink, bridge string) (l3State, error) {
	s := l3State{uplink: uplink, bridge: bridge, index: map[string]int{},
		addrs: map[string][]netlink.Addr{}, routes: map[string][]netlink.Route{}}
	var bridgeIndex int
	for _, name := range []string{bridge, uplink} {
		if name == "" {
			continue
		}
		l, err := k.h.LinkByName(name)
		if err != nil {
			var nf netlink.LinkNotFoundError
			if name == bridge && errors.As(err, &nf) {
				continue
			}
			return s, fmt.Errorf("link %s: %w", name, err)
		}
		s.index[name] = l.Attrs().Index
		if name == bridge {
			bridgeIndex = l.Attrs().Index
		} else {
			s.enslaved = bridgeIndex != 0 && l.Attrs().MasterIndex == bridgeIndex
		}
		if s.addrs[name], err = k.addrs(l); err != nil {
			return s, err
		}
		if s.routes[name], err = k.routes(l); err != nil {
			return s, err
		}
	}
	return s, nil
}

// holder is the link that carries the box's address ("" when none does).
func (s l3State) holder() string {
	for _, n := range []string{s.bridge, s.uplink} {
		if n != "" && len(s.addrs[n]) > 0 {
			return n
		}
	}
	return ""
}

// gateway is the default route's gateway on the holder.
func (s l3State) gateway() netip.Addr {
	for _, r := range s.routes[s.holder()] {
		if isDefault(r) && r.Gw != nil {
			return addrOf(r.Gw)
		}
	}
	return netip.Addr{}
}

func (s l3State) prefixes(link string) []netip.Prefix {
	var ps []netip.Prefix
	for _, a := range s.addrs[link] {
		ps = append(ps, prefixOf(a.IPNet))
	}
	return ps
}

// moved is s with the uplink's addresses and routes on the bridge and the
// uplink enslaved: the goal of the takeover. The bridge must exist.
func (s l3State) moved(bridgeIndex int) l3State {
	m := l3State{uplink: s.uplink, bridge: s.bridge, enslaved: true, index: map[string]int{},
		addrs: map[string][]netlink.Addr{}, routes: map[string][]netlink.Route{}}
	m.index[s.uplink], m.index[s.bridge] = s.index[s.uplink], bridgeIndex
	m.addrs[s.bridge] = append(append([]netlink.Addr(nil), s.addrs[s.bridge]...), s.addrs[s.uplink]...)
	m.routes[s.bridge] = append([]netlink.Route(nil), s.routes[s.bridge]...)
	for _, r := range s.routes[s.uplink] {
		r.LinkIndex = bridgeIndex
		m.routes[s.bridge] = append(m.routes[s.bridge], r)
	}
	return m
}

// reach makes the addresses and routes of the uplink and the bridge those
// of target. The order keeps the box reachable as long as possible: new
// addresses first, then routes (a replace moves a route atomically), then
// stale routes, and stale addresses last.
func (k kernel) reach(target l3State) error {
	links := map[string]netlink.Link{}
	for _, n := range []string{target.uplink, target.bridge} {
		if _, ok := target.index[n]; !ok {
			continue
		}
		l, err := k.link(n)
		if err != nil {
			return err
		}
		links[n] = l
	}
	for n, l := range links {
		have, err := k.addrs(l)
		if err != nil {
			return err
		}
		for _, a := range target.addrs[n] {
			if !containsAddr(have, a) {
				if err := k.addrAdd(l, a); err != nil {
					return fmt.Errorf("add %s to %s: %w", a.IPNet, n, err)
				}
			}
		}
	}
	for n, l := range links {
		have, err := k.routes(l)
		if err != nil {
			return err
		}
		for _, r := range target.routes[n] {
			r.LinkIndex = l.Attrs().Index
			if containsRoute(have, r) {
				continue
			}
			r.Flags &= unix.RTNH_F_ONLINK
			if err := k.mut(func() error { return k.h.RouteReplace(&r) }); err != nil {
				return fmt.Errorf("route %s: %w", routeKey(r), err)
			}
		}
	}
	for n, l := range links {
		have, err := k.routes(l)
		if err != nil {
			return err
		}
		for _, r := range have {
			if containsRoute(target.routes[n], r) {
				continue
			}
			if err := k.mut(func() error { return k.h.RouteDel(&r) }); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("delete route %s: %w", routeKey(r), err)
			}
		}
	}
	for n, l := range links {
		have, err := k.addrs(l)
		if err != nil {
			return err
		}
		for _, a := range have {
			if !containsAddr(target.addrs[n], a) {
				if err := k.addrDel(l, a); err != nil {
					return fmt.Errorf("remove %s from %s: %w", a.IPNet, n, err)
				}
			}
		}
	}
	return nil
}

func containsAddr(as []netlink.Addr, a netlink.Addr) bool {
	for _, b := range as {
		if sameAddr(a, b) {
			return true
		}
	}
	return false
}

func containsRoute(rs []netlink.Route, r netlink.Route) bool {
	for _, q := range rs {
		if routeKey(q) == routeKey(r) {
			return true
		}
	}
	return false
}
