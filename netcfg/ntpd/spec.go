package ntpd

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/nucbox/nucbox/internal/linksock"
)

// Spec is the NTP server as the config wants it.
type Spec struct {
	// Listen are the box's addresses served, one per VLAN interface;
	// none serves nothing.
	Listen []Listener `json:"listen,omitempty"`
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

// Listener is a box address NTP is served on (vlan10 and its subnet):
// requests from outside the subnet are dropped.
type Listener = linksock.Listener
