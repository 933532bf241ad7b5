package policy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// Spec is every port policy and mirror of one bridge.
type Spec struct {
	Ports   []Port   `json:"ports,omitempty"`
	Mirrors []Mirror `json:"mirrors,omitempty"`
}

// Port is the policy of one workload port.
type Port struct {
	// Link is the bridge port's link (the TAP, or the veth's box end).
	Link string `json:"link"`
	// Name is how the user names the port: WORKLOAD.N.
	Name string `json:"name"`
	// MAC is the workload's own address on the port.
	MAC string `json:"mac,omitempty"`
	// IPv4 is the workload's static address, when the config knows it.
	IPv4 netip.Addr `json:"ipv4,omitzero"`
	// IPv6 is the workload's static IPv6 address, when the config knows
	// it. The spoof guard then lets IPv6 out only from it, from the
	// link-local and, with SLAAC set, the SLAAC address the MAC gives
	// (EUI-64), and from :: (duplicate address detection).
	IPv6 netip.Addr `json:"ipv6,omitzero"`
	// SLAAC is the /64 the box advertises on the port's VLAN, if any.
	SLAAC netip.Prefix `json:"slaac,omitzero"`
	// SpoofGuard, BPDUGuard and RAGuard drop frames from other MACs (and
	// IPv4 and ARP from other addresses, with IPv4 set), spanning-tree
	// BPDUs and IPv6 router adverts and redirects.
	SpoofGuard bool `json:"spoof-guard,omitempty"`
	BPDUGuard  bool `json:"bpdu-guard,omitempty"`
	RAGuard    bool `json:"ra-guard,omitempty"`
	// Rules are tried in order; the first match decides.
	Rules []Rule `json:"rules,omitempty"`
	// DefaultDeny drops the IP packets the workload sends that no out
	// rule allowed.
	DefaultDeny bool `json:"default-deny,omitempty"`
	// Rate is the limit in bits per second in each direction; 0: none.
	Rate uint64 `json:"rate,omitempty"`
	// ErrDisabled takes the port out of forwarding, as a switch does
	// with a port whose guard tripped: every frame it sends or is
	// delivered is dropped, until the box enables it again.
	ErrDisabled bool `json:"err-disabled,omitempty"`
}

// Rule is one allow or deny rule.
type Rule struct {
	Allow bool `json:"allow"`
	// In matches packets delivered to the workload, else packets it sends.
	In bool `json:"in,omitempty"`
	// Proto is "", tcp, udp, icmp or icmpv6.
	Proto string `json:"proto,omitempty"`
	// Port is the destination port (tcp, udp); 0 any.
	Port uint16 `json:"port,omitempty"`
	// CIDR is the remote address: destination of out, source of in
	// packets; invalid for any.
	CIDR netip.Prefix `json:"cidr,omitzero"`
}

// Mirror copies the frames of the From links, both ways, out of To.
type Mirror struct {
	From []string `json:"from"`
	To   string   `json:"to"`
	// Create makes To a dummy link owned by nucbox (a capture point);
	// otherwise To is an existing port.
	Create bool `json:"create,omitempty"`
}

// Validate reports every problem with s at once.
func (s Spec) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	seen := map[string]bool{}
	for _, p := range s.Ports {
		switch {
		case p.Link == "" || len(p.Link) > 15:
			add("policy of %q: link name %q invalid", p.Name, p.Link)
		case seen[p.Link]:
			add("policy of %s: link %s has two policies", p.Name, p.Link)
		}
		seen[p.Link] = true
		if m, err := net.ParseMAC(p.MAC); p.SpoofGuard && (err != nil || len(m) != 6 || m[0]&1 != 0) {
			add("policy of %s: spoof guard needs the port's unicast MAC, not %q", p.Name, p.MAC)
		}
		if p.IPv4.IsValid() && !p.IPv4.Is4() {
			add("policy of %s: %s is not an IPv4 address", p.Name, p.IPv4)
		}
		if p.IPv6.IsValid() && (!p.IPv6.Is6() || p.IPv6.Is4In6()) {
			add("policy of %s: %s is not an IPv6 address", p.Name, p.IPv6)
		}
		if p.SLAAC.IsValid() && (!p.SLAAC.Addr().Is6() || p.SLAAC.Bits() != 64) {
			add("policy of %s: SLAAC prefix %s is not an IPv6 /64", p.Name, p.SLAAC)
		}
		if p.Rate != 0 && p.Rate < 8000 {
			add("policy of %s: rate %d bit/s too low", p.Name, p.Rate)
		}
		for i, r := range p.Rules {
			switch r.Proto {
			case "", "tcp", "udp", "icmp", "icmpv6":
			default:
				add("policy of %s: rule %d: unknown protocol %q", p.Name, i, r.Proto)
			}
			if r.Port != 0 && r.Proto != "tcp" && r.Proto != "udp" {
				add("policy of %s: rule %d: a port needs tcp or udp", p.Name, i)
			}
		}
	}
	from := map[string]bool{}
	for _, m := range s.Mirrors {
		if m.To == "" || len(m.To) > 15 {
			add("mirror: target link name %q invalid", m.To)
		}
		for _, f := range m.From {
			if f == m.To || from[f] {
				add("mirror: %s mirrored twice or to itself", f)
			}
			from[f] = true
		}
	}
	for _, m := range s.Mirrors {
		if from[m.To] {
			add("mirror: target %s is itself mirrored", m.To)
		}
	}
	return errors.Join(errs...)
}

// IPv6Sources are the addresses the spoof guard lets p send IPv6 from,
// besides :: (none without a known IPv6 address): the static one, the
// link-local and the SLAAC address of its MAC. Temporary (privacy)
// addresses are not among them: a guarded port's source names the port,
// which random addresses would undo.
func (p Port) IPv6Sources() []netip.Addr {
	if !p.IPv6.Is6() {
		return nil
	}
	out := []netip.Addr{p.IPv6}
	mac, err := net.ParseMAC(p.MAC)
	if err != nil || len(mac) != 6 {
		return out
	}
	for _, pfx := range []netip.Prefix{netip.MustParsePrefix("fe80::/64"), p.SLAAC} {
		if a := EUI64(pfx, mac); a.IsValid() && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// EUI64 is the address in the /64 pfx whose interface identifier the
// kernel derives from mac (RFC 4291 appendix A: ff:fe in the middle, the
// universal/local bit flipped); invalid for another prefix length.
func EUI64(pfx netip.Prefix, mac net.HardwareAddr) netip.Addr {
	if !pfx.IsValid() || !pfx.Addr().Is6() || pfx.Bits() != 64 || len(mac) != 6 {
		return netip.Addr{}
	}
	b := pfx.Masked().Addr().As16()
	copy(b[8:], []byte{mac[0] ^ 0x02, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]})
	return netip.AddrFrom16(b)
}

// Port is the policy of link, if any.
func (s Spec) Port(link string) (Port, bool) {
	i := slices.IndexFunc(s.Ports, func(p Port) bool { return p.Link == link })
	if i < 0 {
		return Port{}, false
	}
	return s.Ports[i], true
}
