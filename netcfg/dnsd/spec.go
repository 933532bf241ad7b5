package dnsd

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/nucbox/nucbox/internal/linksock"
)

// Spec is the DNS server as the config wants it.
type Spec struct {
	// Domain holds the workloads' names, without a trailing dot (lab).
	Domain string `json:"domain"`
	// Listen are the box's addresses served: an IPv4 one per VLAN
	// interface, and its IPv6 one where the box advertises it as DNS
	// server.
	Listen []Listener `json:"listen,omitempty"`
	// Hosts are names with fixed addresses from the config, IPv4 (A)
	// and IPv6 (AAAA).
	Hosts []Host `json:"hosts,omitempty"`
	// Self is the box's own name (its hostname): answered on each link
	// with the box's listening addresses there, IPv4 and IPv6.
	Self string `json:"self,omitempty"`
}

// Host is one name under the domain.
type Host struct {
	Name      string       `json:"name"`
	Addresses []netip.Addr `json:"addresses"`
}

// Validate reports every inconsistency of s at once.
func (s Spec) Validate() error {
	var errs []error
	if len(s.Listen) > 0 && (s.Domain == "" || strings.HasSuffix(s.Domain, ".") || strings.HasPrefix(s.Domain, ".")) {
		errs = append(errs, fmt.Errorf("dns: domain %q must be a name without leading or trailing dot", s.Domain))
	}
	seen := map[netip.Addr]bool{}
	for _, l := range s.Listen {
		if !l.Address.IsValid() || l.Address.Addr().Is4In6() || l.Address.Addr().Zone() != "" {
			errs = append(errs, fmt.Errorf("dns: listener on %q: no IPv4 or IPv6 address", l.Interface))
		} else if seen[l.Address.Addr()] {
			errs = append(errs, fmt.Errorf("dns: address %s listed twice", l.Address.Addr()))
		}
		seen[l.Address.Addr()] = true
	}
	for _, h := range s.Hosts {
		if h.Name == "" || strings.Contains(h.Name, ".") {
			errs = append(errs, fmt.Errorf("dns: host name %q is not one label", h.Name))
		}
	}
	if strings.Contains(s.Self, ".") {
		errs = append(errs, fmt.Errorf("dns: the box's name %q is not one label", s.Self))
	}
	return errors.Join(errs...)
}

// Listener is a box address DNS is served on (vlan10 and its subnet):
// queries from outside the subnet are refused.
type Listener = linksock.Listener
