package dhcpload

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Check reports what makes r no valid run of n clients on the range
// first-last: clients without a lease, addresses given to two clients,
// addresses outside the range. A run that passes has n distinct leases.
func (r Result) Check(n int, first, last netip.Addr) error {
	var errs []error
	macs := make([]string, 0, len(r.Failed))
	for m := range r.Failed {
		macs = append(macs, m)
	}
	slices.Sort(macs)
	for i, m := range macs {
		if i == 5 {
			errs = append(errs, fmt.Errorf("... and %d more clients without a lease", len(macs)-5))
			break
		}
		errs = append(errs, fmt.Errorf("client %s got no lease: %w", m, r.Failed[m]))
	}
	if got := len(r.Leases) + len(r.Failed); got != n {
		errs = append(errs, fmt.Errorf("%d clients accounted for, want %d", got, n))
	}
	by := map[netip.Addr][]string{}
	for m, a := range r.Leases {
		by[a] = append(by[a], m)
		if a.Less(first) || last.Less(a) {
			errs = append(errs, fmt.Errorf("client %s got %s, outside the range %s-%s", m, a, first, last))
		}
	}
	for a, ms := range by {
		if len(ms) > 1 {
			slices.Sort(ms)
			errs = append(errs, fmt.Errorf("%s given to %d clients: %v", a, len(ms), ms))
		}
	}
	return errors.Join(errs...)
}
