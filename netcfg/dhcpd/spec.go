package dhcpd

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Spec is every DHCP server of the box.
type Spec struct {
	Scopes []Scope `json:"scopes,omitempty"`
}

// Scope is the server on one interface.
type Scope struct {
	// VLAN names the scope in leases and status.
	VLAN int `json:"vlan"`
	// Interface is the link served (vlan10). Empty means the link that
	// holds the box's uplink address (the bridge, or the bare uplink after
	// a rolled back takeover), which the caller names at Apply.
	Interface string `json:"interface,omitempty"`
	// Server is the box's address on the link, with the subnet's length.
	Server netip.Prefix `json:"server"`
	// First and Last bound the dynamic addresses.
	First netip.Addr    `json:"first"`
	Last  netip.Addr    `json:"last"`
	Lease time.Duration `json:"-"`
	// Router is sent as the default gateway when valid.
	Router netip.Addr   `json:"router,omitzero"`
	DNS    []netip.Addr `json:"dns,omitempty"`
	// NTP are sent as the NTP servers (option 42): the box, when it
	// serves NTP on the VLAN.
	NTP    []netip.Addr `json:"ntp,omitempty"`
	Domain string       `json:"domain,omitempty"`
	MTU    int          `json:"mtu,omitempty"`
	// Hosts are the clients the config knows, by MAC: workload NICs.
	Hosts []Host `json:"hosts,omitempty"`
}

// Host is a known client.
type Host struct {
	// MAC in canonical text (net.HardwareAddr.String).
	MAC string `json:"mac"`
	// Name is its DNS name under the domain: the workload's name.
	Name string `json:"name"`
	// Address is its fixed lease; invalid for a dynamic one.
	Address netip.Addr `json:"address,omitzero"`
}

// MarshalJSON writes the lease time as text, as plan shows durations.
func (s Scope) MarshalJSON() ([]byte, error) {
	type plain Scope
	return json.Marshal(struct {
		plain
		Lease string `json:"lease"`
	}{plain(s), s.Lease.String()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Scope) UnmarshalJSON(b []byte) error {
	type plain Scope
	var v struct {
		plain
		Lease string `json:"lease"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Scope(v.plain)
	if v.Lease != "" {
		d, err := time.ParseDuration(v.Lease)
		if err != nil {
			return err
		}
		s.Lease = d
	}
	return nil
}

// Subnet is the scope's network.
func (s Scope) Subnet() netip.Prefix { return s.Server.Masked() }

// InRange reports whether a is one of the dynamic addresses.
func (s Scope) InRange(a netip.Addr) bool {
	return a.IsValid() && !a.Less(s.First) && !s.Last.Less(a)
}

// Validate reports every inconsistency of s at once.
func (s Spec) Validate() error {
	var errs []error
	vlans := map[int]bool{}
	for _, sc := range s.Scopes {
		where := fmt.Sprintf("dhcp scope on VLAN %d", sc.VLAN)
		if vlans[sc.VLAN] {
			errs = append(errs, fmt.Errorf("%s: VLAN listed twice", where))
		}
		vlans[sc.VLAN] = true
		sub := sc.Subnet()
		switch {
		case !sc.Server.IsValid() || !sc.Server.Addr().Is4():
			errs = append(errs, fmt.Errorf("%s: no IPv4 server address", where))
		case !sub.Contains(sc.First) || !sub.Contains(sc.Last) || sc.Last.Less(sc.First):
			errs = append(errs, fmt.Errorf("%s: range %s-%s is not inside %s", where, sc.First, sc.Last, sub))
		case sc.InRange(sc.Server.Addr()):
			errs = append(errs, fmt.Errorf("%s: range %s-%s holds the server's address", where, sc.First, sc.Last))
		}
		if sc.Lease < time.Second {
			errs = append(errs, fmt.Errorf("%s: lease %s too short", where, sc.Lease))
		}
		if len(sc.Interface) > 15 {
			errs = append(errs, fmt.Errorf("%s: interface name %q longer than 15 bytes", where, sc.Interface))
		}
		for _, h := range sc.Hosts {
			if m, err := net.ParseMAC(h.MAC); err != nil || len(m) != 6 || m.String() != h.MAC {
				errs = append(errs, fmt.Errorf("%s: host %s: MAC %q not in canonical form", where, h.Name, h.MAC))
			}
			if h.Address.IsValid() && (!sub.Contains(h.Address) || sc.InRange(h.Address)) {
				errs = append(errs, fmt.Errorf("%s: host %s: fixed address %s outside the subnet or inside the range", where, h.Name, h.Address))
			}
		}
	}
	return errors.Join(errs...)
}
