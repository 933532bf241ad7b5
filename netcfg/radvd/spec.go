package radvd

import (
	"errors"
	"fmt"
	"net/netip"
)

// Spec is every interface the box advertises on.
type Spec struct {
	Links []Link `json:"links,omitempty"`
}

// Link is the adverts on one interface.
type Link struct {
	// VLAN names the link in the log.
	VLAN int `json:"vlan"`
	// Interface is the VLAN interface (vlan10).
	Interface string `json:"interface"`
	// Prefix is the /64 advertised for SLAAC (the box's address on the
	// link, with its length).
	Prefix netip.Prefix `json:"prefix"`
	// DNS are the resolvers advertised (RDNSS); none sends no option.
	DNS []netip.Addr `json:"dns,omitempty"`
	// MTU is advertised when set (a VLAN carried over a tunnel).
	MTU int `json:"mtu,omitempty"`
	// Router makes the box the link's default router (a router
	// lifetime): set where it forwards the link's IPv6 (NAT66), else
	// workloads would send off-link traffic to a box that drops it.
	Router bool `json:"router,omitempty"`
}

// Validate reports every inconsistency of s at once.
func (s Spec) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for _, l := range s.Links {
		where := fmt.Sprintf("router adverts on %s (VLAN %d)", l.Interface, l.VLAN)
		switch {
		case l.Interface == "" || len(l.Interface) > 15:
			errs = append(errs, fmt.Errorf("%s: interface name empty or longer than 15 bytes", where))
		case seen[l.Interface]:
			errs = append(errs, fmt.Errorf("%s: interface listed twice", where))
		}
		seen[l.Interface] = true
		p := l.Prefix
		if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() || p.Bits() != 64 || p.Addr().IsLinkLocalUnicast() {
			errs = append(errs, fmt.Errorf("%s: prefix %s is not a global or unique local /64", where, p))
		}
		for _, a := range l.DNS {
			if !a.Is6() || a.Is4In6() {
				errs = append(errs, fmt.Errorf("%s: DNS server %s is not IPv6", where, a))
			}
		}
		if l.MTU != 0 && (l.MTU < 1280 || l.MTU > 9000) {
			errs = append(errs, fmt.Errorf("%s: MTU %d outside 1280..9000", where, l.MTU))
		}
	}
	return errors.Join(errs...)
}
