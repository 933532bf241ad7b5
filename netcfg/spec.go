package netcfg

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/vswitch"
)

// Spec is the box's own network as the config wants it.
type Spec struct {
	// Hostname is sent in DHCP requests.
	Hostname string
	Uplink   Selector
	// Bridge takes the uplink over: it gets the uplink's MAC, and the
	// address and routes move onto it. An empty Name leaves the address
	// on the uplink. Bridge.MAC is ignored (the uplink's is used).
	Bridge vswitch.Bridge
	// UplinkVLANs are carried tagged on the uplink port (VLAN filtering).
	UplinkVLANs []int
	IPv4        IPv4
	// DNS servers are written to resolv.conf after the lease's servers.
	DNS   []netip.Addr
	Probe Probe
}

// Selector picks the uplink: by Name, by MAC, or (neither) the first
// physical Ethernet link with carrier.
type Selector struct {
	Name string
	MAC  net.HardwareAddr
	// CarrierTimeout bounds the wait for carrier (default 30 s).
	CarrierTimeout time.Duration
}

// Auto reports whether the selector picks a link by itself.
func (s Selector) Auto() bool { return (s.Name == "" || s.Name == "auto") && s.MAC == nil }

func (s Selector) String() string {
	switch {
	case s.MAC != nil:
		return "mac " + s.MAC.String()
	case s.Auto():
		return "auto"
	}
	return s.Name
}

// IPv4 is DHCP or a static address with an optional gateway.
type IPv4 struct {
	DHCP    bool
	Address netip.Prefix
	Gateway netip.Addr
}

// Probe is the connectivity check after a change of the box's address or
// its move onto the bridge.
type Probe struct {
	// Target defaults to the gateway.
	Target netip.Addr
	// Timeout is how long the probe may fail before the change is rolled
	// back (default 10 s).
	Timeout  time.Duration
	Disabled bool
}

// Defaults that also apply to a Spec built by hand.
const (
	DefaultCarrierTimeout = 30 * time.Second
	DefaultProbeTimeout   = 10 * time.Second
)

// FromConfig turns the config's uplink section into a Spec, reporting
// every unparsable value at once. The bridge always filters VLANs: that is
// what the box is for; tests on kernels without filtering build a Spec.
func FromConfig(c *config.Config) (Spec, error) {
	u := c.Uplink
	s := Spec{
		Hostname: c.Hostname,
		Uplink:   Selector{CarrierTimeout: time.Duration(u.CarrierTimeout)},
		Bridge:   vswitch.Bridge{Name: u.Bridge, VLANFiltering: true, NativeVLAN: u.NativeVLAN},
		Probe:    Probe{Timeout: time.Duration(u.Probe.Timeout), Disabled: u.Probe.Disabled},
	}
	s.UplinkVLANs = append(s.UplinkVLANs, u.VLANs...)
	if s.Bridge.Name == "" {
		s.Bridge.Name = config.DefaultBridge
	}
	if s.Bridge.NativeVLAN == 0 {
		s.Bridge.NativeVLAN = config.DefaultNativeVLAN
	}
	var errs []error
	bad := func(field string, err error) { errs = append(errs, fmt.Errorf("uplink.%s: %w", field, err)) }
	if u.MAC != "" {
		m, err := net.ParseMAC(u.MAC)
		if err != nil {
			bad("mac", err)
		}
		s.Uplink.MAC = m
	} else if u.Interface != "auto" {
		s.Uplink.Name = u.Interface
	}
	switch {
	case u.IPv4.DHCP || u.IPv4.IsZero():
		s.IPv4.DHCP = true
	default:
		p, err := netip.ParsePrefix(u.IPv4.Address)
		if err != nil {
			bad("ipv4.address", err)
		}
		s.IPv4.Address = p
		if u.IPv4.Gateway != "" {
			g, err := netip.ParseAddr(u.IPv4.Gateway)
			if err != nil {
				bad("ipv4.gateway", err)
			}
			s.IPv4.Gateway = g
		}
	}
	for i, d := range u.DNS {
		a, err := netip.ParseAddr(d)
		if err != nil {
			bad(fmt.Sprintf("dns[%d]", i), err)
		}
		s.DNS = append(s.DNS, a)
	}
	if u.Probe.Target != "" {
		a, err := netip.ParseAddr(u.Probe.Target)
		if err != nil {
			bad("probe.target", err)
		}
		s.Probe.Target = a
	}
	if err := errors.Join(errs...); err != nil {
		return s, err
	}
	return s, s.Validate()
}

// Validate reports every inconsistency of s at once.
func (s Spec) Validate() error {
	var errs []error
	if !s.IPv4.DHCP {
		a := s.IPv4.Address
		switch {
		case !a.IsValid() || !a.Addr().Is4():
			errs = append(errs, fmt.Errorf("ipv4: static address %q is not an IPv4 prefix", a))
		case s.IPv4.Gateway.IsValid() && !a.Masked().Contains(s.IPv4.Gateway):
			errs = append(errs, fmt.Errorf("ipv4: gateway %s is outside %s", s.IPv4.Gateway, a.Masked()))
		}
	}
	if len(s.Uplink.MAC) != 0 && len(s.Uplink.MAC) != 6 {
		errs = append(errs, fmt.Errorf("uplink: MAC %s is not an Ethernet address", s.Uplink.MAC))
	}
	if len(s.Bridge.Name) > 15 {
		errs = append(errs, fmt.Errorf("bridge %q: name longer than 15 bytes", s.Bridge.Name))
	}
	if !s.Bridge.VLANFiltering && len(s.UplinkVLANs) > 0 {
		errs = append(errs, fmt.Errorf("uplink VLANs %v need VLAN filtering on the bridge", s.UplinkVLANs))
	}
	return errors.Join(errs...)
}

func (s Spec) carrierTimeout() time.Duration {
	if s.Uplink.CarrierTimeout > 0 {
		return s.Uplink.CarrierTimeout
	}
	return DefaultCarrierTimeout
}

func (s Spec) probeTimeout() time.Duration {
	if s.Probe.Timeout > 0 {
		return s.Probe.Timeout
	}
	return DefaultProbeTimeout
}
