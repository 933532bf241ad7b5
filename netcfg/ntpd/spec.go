package ntpd

import (
	"errors"
	"fmt"
	"net/netip"
)

// Spec is the NTP server as the config wants it.
type Spec struct {
	// Listen are the box's addresses served, one per VLAN interface;
	// none serves nothing.
	Listen []Listener `json:"listen,omitempty"`
}

// Listener is one box address to serve on.
type Listener struct {
	// Interface binds the socket (vlan10); empty binds none (tests).
	Interface string `json:"interface,omitempty"`
	// Address is the box's address with its subnet: requests from
	// outside the subnet are dropped.
	Address netip.Prefix `json:"address"`
}

// Validate reports every inconsistency of s at once.
func (s Spec) Validate() error {
	var errs []error
	seen := map[netip.Addr]bool{}
	for _, l := range s.Listen {
		switch {
		case !l.Address.IsValid() || l.Address.Addr().Is4In6() || l.Address.Addr().Zone() != "":
			errs = append(errs, fmt.Errorf("ntp: listener on %q: no IPv4 or IPv6 address", l.Interface))
		case seen[l.Address.Addr()]:
			errs = append(errs, fmt.Errorf("ntp: address %s listed twice", l.Address.Addr()))
		}
		seen[l.Address.Addr()] = true
		if len(l.Interface) > 15 {
			errs = append(errs, fmt.Errorf("ntp: interface name %q longer than 15 bytes", l.Interface))
		}
	}
	return errors.Join(errs...)
}
