package netcfg

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/nucbox/nucbox/vswitch"
)

// Spec is the box's own network, complete: config/plan compiles it from
// the config with every default filled in, and netcfg adds none of its
// own.
type Spec struct {
	// Hostname is sent in DHCP requests.
	Hostname string   `json:"hostname"`
	Uplink   Selector `json:"uplink"`
	// Bridge takes the uplink over: it gets the uplink's MAC, and the
	// address and routes move onto it. An empty Name leaves the address
	// on the uplink. Bridge.MAC is ignored (the uplink's is used).
	Bridge vswitch.Bridge `json:"bridge"`
	// UplinkPort is the uplink's bridge port (VLANs and label) without its
	// link name: the switch's uplink template (vswitch.Desired.Uplink),
	// named here after the link the selector found.
	UplinkPort vswitch.Port `json:"uplink-port"`
	IPv4       IPv4         `json:"ipv4"`
	// IPv6 is the box's IPv6 on the lab network; the zero value is SLAAC.
	IPv6 IPv6 `json:"ipv6,omitzero"`
	// DNS servers are written to resolv.conf after the lease's servers.
	DNS   []netip.Addr `json:"dns,omitempty"`
	Probe Probe        `json:"probe"`
}

// Selector picks the uplink: by Name, by MAC, or (neither) the first
// physical Ethernet link with carrier.
type Selector struct {
	Name string           `json:"name,omitempty"`
	MAC  net.HardwareAddr `json:"mac,omitempty"`
	// CarrierTimeout bounds the wait for carrier.
	CarrierTimeout time.Duration `json:"carrier-timeout"`
	// Bond, when set, is made of its members first and is the uplink;
	// Name is then the bond's name.
	Bond *vswitch.Bond `json:"bond,omitempty"`
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

// MarshalJSON writes the MAC and the timeout as text.
func (s Selector) MarshalJSON() ([]byte, error) {
	type selector Selector
	mac := ""
	if len(s.MAC) > 0 {
		mac = s.MAC.String()
	}
	return json.Marshal(struct {
		selector
		MAC            string `json:"mac,omitempty"`
		CarrierTimeout string `json:"carrier-timeout"`
	}{selector(s), mac, s.CarrierTimeout.String()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Selector) UnmarshalJSON(data []byte) error {
	type selector Selector
	var v struct {
		selector
		MAC            string `json:"mac,omitempty"`
		CarrierTimeout string `json:"carrier-timeout"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*s = Selector(v.selector)
	var err error
	if v.MAC != "" {
		if s.MAC, err = net.ParseMAC(v.MAC); err != nil {
			return err
		}
	}
	s.CarrierTimeout, err = parseDuration(v.CarrierTimeout)
	return err
}

func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	return time.ParseDuration(s)
}

// IPv4 is DHCP or a static address with an optional gateway.
type IPv4 struct {
	DHCP    bool         `json:"dhcp,omitempty"`
	Address netip.Prefix `json:"address,omitzero"`
	Gateway netip.Addr   `json:"gateway,omitzero"`
}

// IPv6 modes of the uplink.
const (
	// IPv6SLAAC takes addresses and routes from the lab's router adverts.
	IPv6SLAAC = "slaac"
	// IPv6DHCP takes the address from DHCPv6 (IA_NA), routes from the
	// router adverts.
	IPv6DHCP = "dhcp"
	// IPv6Static is Address with Gateway as default router; adverts are
	// ignored.
	IPv6Static = "static"
	// IPv6Off takes no address and ignores adverts.
	IPv6Off = "off"
)

// IPv6 is the box's IPv6 on the lab network.
type IPv6 struct {
	// Mode is one of the IPv6 modes; empty is IPv6SLAAC.
	Mode    string       `json:"mode,omitempty"`
	Address netip.Prefix `json:"address,omitzero"`
	Gateway netip.Addr   `json:"gateway,omitzero"`
}

// Probe is the connectivity check after a change of the box's address or
// its move onto the bridge.
type Probe struct {
	// Target is the address probed; invalid means the gateway.
	Target netip.Addr `json:"target,omitzero"`
	// Timeout is how long the probe may fail before the change is rolled
	// back.
	Timeout  time.Duration `json:"timeout"`
	Disabled bool          `json:"disabled,omitempty"`
}

// MarshalJSON writes the timeout as text.
func (p Probe) MarshalJSON() ([]byte, error) {
	type probe Probe
	return json.Marshal(struct {
		probe
		Timeout string `json:"timeout"`
	}{probe(p), p.Timeout.String()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *Probe) UnmarshalJSON(data []byte) error {
	type probe Probe
	var v struct {
		probe
		Timeout string `json:"timeout"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*p = Probe(v.probe)
	var err error
	p.Timeout, err = parseDuration(v.Timeout)
	return err
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
	switch v6 := s.IPv6; v6.Mode {
	case "", IPv6SLAAC, IPv6DHCP, IPv6Off:
		if v6.Address.IsValid() || v6.Gateway.IsValid() {
			errs = append(errs, fmt.Errorf("ipv6: %s with a static address or gateway", v6.Mode))
		}
	case IPv6Static:
		a := v6.Address
		switch gw := v6.Gateway; {
		case !a.IsValid() || !a.Addr().Is6() || a.Addr().Is4In6():
			errs = append(errs, fmt.Errorf("ipv6: static address %q is not an IPv6 prefix", a))
		case gw.IsValid() && (!gw.Is6() || !gw.IsLinkLocalUnicast() && !a.Masked().Contains(gw)):
			errs = append(errs, fmt.Errorf("ipv6: gateway %s is neither link-local nor inside %s", gw, a.Masked()))
		}
	default:
		errs = append(errs, fmt.Errorf("ipv6: unknown mode %q", v6.Mode))
	}
	if len(s.Uplink.MAC) != 0 && len(s.Uplink.MAC) != 6 {
		errs = append(errs, fmt.Errorf("uplink: MAC %s is not an Ethernet address", s.Uplink.MAC))
	}
	if b := s.Uplink.Bond; b != nil && (b.Name != s.Uplink.Name || len(b.Members) == 0) {
		errs = append(errs, fmt.Errorf("uplink: bond %q with members %v is not the uplink %q", b.Name, b.Members, s.Uplink.Name))
	}
	if s.Uplink.CarrierTimeout <= 0 {
		errs = append(errs, fmt.Errorf("uplink: carrier timeout %v is not positive", s.Uplink.CarrierTimeout))
	}
	if !s.Probe.Disabled && s.Probe.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("probe: timeout %v is not positive", s.Probe.Timeout))
	}
	if len(s.Bridge.Name) > 15 {
		errs = append(errs, fmt.Errorf("bridge %q: name longer than 15 bytes", s.Bridge.Name))
	}
	if vs := s.UplinkPort.VLANs(); !s.Bridge.VLANFiltering && len(vs) > 0 {
		errs = append(errs, fmt.Errorf("uplink VLANs %v need VLAN filtering on the bridge", vs))
	}
	return errors.Join(errs...)
}
