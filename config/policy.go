package config

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// PortPolicy is what a workload port may send and receive, as a managed
// switch's port ACL, storm and port-security settings would say it. The
// guards are on unless turned off; rules and the rate apply only when
// written.
type PortPolicy struct {
	// Rules are tried in order; the first that matches decides.
	Rules []PolicyRule `yaml:"rules,omitempty" json:"rules,omitempty" jsonschema_description:"allow/deny rules tried in order, the first match decides"`
	// Default is what happens to IP traffic the workload sends that no
	// out rule matched. ARP always passes (subject to the spoof guard).
	Default string `yaml:"default,omitempty" json:"default,omitempty" jsonschema:"enum=allow,enum=deny" jsonschema_description:"What happens to IPv4/IPv6 packets the workload sends that no out rule matches (default allow)"`
	// Rate limits the port in each direction, in bits per second with a
	// unit: 100Mbit.
	Rate Rate `yaml:"rate,omitempty" json:"rate,omitempty" jsonschema:"pattern=^[0-9]+(\\.[0-9]+)?([kKmMgG])?bit$" jsonschema_description:"Rate limit in each direction such as 100Mbit (units bit, Kbit, Mbit, Gbit; decimal)"`
	// SpoofGuard drops frames the workload sends from any MAC but its own,
	// and, when its NIC has a static ipv4 address, IPv4 and ARP from any
	// other address.
	SpoofGuard *bool `yaml:"spoof-guard,omitempty" json:"spoof-guard,omitempty" jsonschema_description:"Drop frames sent from a MAC other than the NIC's, and IPv4/ARP from an address other than its static ipv4 (default true)"`
	// BPDUGuard drops spanning tree frames the workload sends.
	BPDUGuard *bool `yaml:"bpdu-guard,omitempty" json:"bpdu-guard,omitempty" jsonschema_description:"Drop spanning-tree BPDUs the workload sends (default true)"`
	// RAGuard drops IPv6 router adverts and redirects the workload sends;
	// turn it off for a workload that is a router.
	RAGuard *bool `yaml:"ra-guard,omitempty" json:"ra-guard,omitempty" jsonschema_description:"Drop IPv6 router advertisements and redirects the workload sends (default true; turn off for a router VM)"`
}

// Rate is a bit rate with its unit, such as 100Mbit; see ParseRate.
type Rate string

// PolicyRule is one allow or deny rule of a port policy.
type PolicyRule struct {
	Action string `yaml:"action" json:"action" jsonschema:"required,enum=allow,enum=deny" jsonschema_description:"allow or deny"`
	// Proto is tcp, udp, icmp, icmpv6 or any.
	Proto string `yaml:"proto,omitempty" json:"proto,omitempty" jsonschema:"enum=tcp,enum=udp,enum=icmp,enum=icmpv6,enum=any" jsonschema_description:"Protocol: tcp, udp, icmp, icmpv6 or any (default any)"`
	// Port is the destination port (tcp and udp only): the remote's for
	// out rules, the workload's for in rules.
	Port int `yaml:"port,omitempty" json:"port,omitempty" jsonschema:"minimum=1,maximum=65535" jsonschema_description:"Destination port (tcp or udp): the remote service for out, the workload's own for in"`
	// CIDR is the remote end: the destination for out rules, the source
	// for in rules.
	CIDR string `yaml:"cidr,omitempty" json:"cidr,omitempty" jsonschema_description:"Remote address or prefix (IPv4 or IPv6): destination for out, source for in (default any)"`
	// Direction is out (packets the workload sends, the default) or in
	// (packets delivered to it).
	Direction string `yaml:"direction,omitempty" json:"direction,omitempty" jsonschema:"enum=out,enum=in" jsonschema_description:"out: packets the workload sends (default); in: packets delivered to it"`
}

// Switch holds the switch-wide settings: policies for whole VLANs and
// port mirrors.
type Switch struct {
	VLANs   []VLANPolicy `yaml:"vlans,omitempty" json:"vlans,omitempty" jsonschema_description:"Port policies for every workload port in a VLAN"`
	Mirrors []Mirror     `yaml:"mirrors,omitempty" json:"mirrors,omitempty" jsonschema_description:"Port mirrors: copies of ports' traffic sent out of another port"`
}

// IsZero reports whether nothing was configured.
func (s Switch) IsZero() bool { return len(s.VLANs) == 0 && len(s.Mirrors) == 0 }

// VLANPolicy is the policy of every workload port whose access (or
// native) VLAN it names; a NIC's own policy comes first: its rules before
// the VLAN's, its other settings over the VLAN's.
type VLANPolicy struct {
	VLAN   int        `yaml:"vlan" json:"vlan" jsonschema:"required,minimum=1,maximum=4094" jsonschema_description:"VLAN id"`
	Policy PortPolicy `yaml:"policy" json:"policy" jsonschema:"required" jsonschema_description:"Policy of every workload port in the VLAN"`
}

// Mirror copies the frames of ports (both directions) to another port.
type Mirror struct {
	// From are ports as WORKLOAD.N (NIC N of the workload).
	From []string `yaml:"from" json:"from" jsonschema:"required,minItems=1" jsonschema_description:"Mirrored ports as WORKLOAD.N (both directions)"`
	// To is a workload port (WORKLOAD.N) or the name of a link the box
	// creates for the purpose (a dummy link, for nucbox capture).
	To string `yaml:"to" json:"to" jsonschema:"required,minLength=1" jsonschema_description:"Where the copies go: a workload port WORKLOAD.N or a new link's name such as capture0 (watch it with nucbox capture)"`
}

// Policy rule actions, directions and defaults.
const (
	PolicyAllow = "allow"
	PolicyDeny  = "deny"
	PolicyOut   = "out"
	PolicyIn    = "in"
)

var (
	rateRE      = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)([kKmMgG]?)bit$`)
	rateLooseRE = regexp.MustCompile(`^\s*[0-9.]+\s*$`)
)

// ParseRate reads a rate such as 100Mbit into bits per second. The unit is
// required: "100" could be bits, bytes or megabits.
func ParseRate(s string) (uint64, error) {
	m := rateRE.FindStringSubmatch(s)
	if m == nil {
		if rateLooseRE.MatchString(s) {
			return 0, fmt.Errorf("rate %q has no unit: write it such as %sMbit", s, strings.TrimSpace(s))
		}
		return 0, fmt.Errorf("invalid rate %q: use a number and bit, Kbit, Mbit or Gbit, such as 100Mbit", s)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("invalid rate %q: %v", s, err)
	}
	mult := map[string]float64{"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[strings.ToLower(m[2])]
	bps := v * mult
	switch {
	case bps < 8000:
		return 0, fmt.Errorf("rate %q is below 8Kbit, too low to pass a full frame in a second", s)
	case bps > 400e9:
		return 0, fmt.Errorf("rate %q is above 400Gbit", s)
	}
	return uint64(math.Round(bps)), nil
}

// ParsePolicyCIDR reads a rule's cidr: a prefix, or a bare address as a
// host prefix.
func ParsePolicyCIDR(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		if p != p.Masked() {
			return p, fmt.Errorf("cidr %q has host bits set: the network is %s", s, p.Masked())
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("invalid cidr %q: use an address or a prefix such as 10.0.0.0/8", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// policy checks one port or VLAN policy at path p.
func (ck *checker) policy(p string, pol *PortPolicy) {
	if pol == nil {
		return
	}
	switch pol.Default {
	case "", PolicyAllow, PolicyDeny:
	default:
		ck.add(p+".default", "unknown default %q: use allow or deny", pol.Default)
	}
	if pol.Rate != "" {
		if _, err := ParseRate(string(pol.Rate)); err != nil {
			ck.add(p+".rate", "%v", err)
		}
	}
	for i, r := range pol.Rules {
		rp := fmt.Sprintf("%s.rules[%d]", p, i)
		switch r.Action {
		case PolicyAllow, PolicyDeny:
		case "":
			ck.add(rp+".action", "required: allow or deny")
		default:
			ck.add(rp+".action", "unknown action %q: use allow or deny", r.Action)
		}
		switch r.Direction {
		case "", PolicyOut, PolicyIn:
		default:
			ck.add(rp+".direction", "unknown direction %q: use out (sent by the workload) or in (delivered to it)", r.Direction)
		}
		switch r.Proto {
		case "", "any", "tcp", "udp", "icmp", "icmpv6":
		default:
			ck.add(rp+".proto", "unknown protocol %q: use tcp, udp, icmp, icmpv6 or any", r.Proto)
		}
		if r.Port != 0 {
			switch {
			case r.Port < 0 || r.Port > 65535:
				ck.add(rp+".port", "port %d out of range 1..65535", r.Port)
			case r.Proto != "tcp" && r.Proto != "udp":
				ck.add(rp+".port", "a port needs proto tcp or udp")
			}
		}
		if r.CIDR != "" {
			pfx, err := ParsePolicyCIDR(r.CIDR)
			switch {
			case err != nil:
				ck.add(rp+".cidr", "%v", err)
			case r.Proto == "icmp" && !pfx.Addr().Is4(), r.Proto == "icmpv6" && !pfx.Addr().Is6():
				ck.add(rp+".cidr", "%s is not of %s's IP version", pfx, r.Proto)
			}
		}
	}
}

// switchPolicies checks switch.vlans and switch.mirrors against the
// workloads.
func (ck *checker) switchPolicies() {
	c := ck.c
	seen := map[int]string{}
	for i := range c.Switch.VLANs {
		v := &c.Switch.VLANs[i]
		p := fmt.Sprintf("switch.vlans[%d]", i)
		if ck.vlanID(p+".vlan", v.VLAN) {
			if prev, dup := seen[v.VLAN]; dup {
				ck.add(p+".vlan", "VLAN %d already has a policy at %s", v.VLAN, ck.loc.ref(prev))
			}
			seen[v.VLAN] = p + ".vlan"
		}
		ck.policy(p+".policy", &v.Policy)
	}
	ports := map[string]bool{}
	for _, vm := range c.VMs {
		for i := range vm.NICs {
			ports[fmt.Sprintf("%s.%d", vm.Name, i)] = true
		}
	}
	for _, ct := range c.Containers {
		for i := range ct.NICs {
			ports[fmt.Sprintf("%s.%d", ct.Name, i)] = true
		}
	}
	mirrored := map[string]string{}
	sinks := map[string]bool{}
	for i, m := range c.Switch.Mirrors {
		p := fmt.Sprintf("switch.mirrors[%d]", i)
		if len(m.From) == 0 {
			ck.add(p+".from", "required: the ports to mirror, such as [vm1.0]")
		}
		for j, f := range m.From {
			fp := fmt.Sprintf("%s.from[%d]", p, j)
			switch {
			case !ports[f]:
				ck.add(fp, "no workload port %q: name a NIC as WORKLOAD.N, such as vm1.0", f)
			case f == m.To:
				ck.add(fp, "port %s is mirrored to itself", f)
			case mirrored[f] != "":
				ck.add(fp, "port %s is already mirrored by %s", f, ck.loc.ref(mirrored[f]))
			default:
				mirrored[f] = fp
			}
		}
		switch {
		case m.To == "":
			ck.add(p+".to", "required: a workload port WORKLOAD.N or a new link's name such as capture0")
		case ports[m.To]:
		case strings.Contains(m.To, "."):
			ck.add(p+".to", "no workload port %q", m.To)
		default:
			if msg := linkNameProblem(m.To); msg != "" {
				ck.add(p+".to", "invalid link name %q: %s", m.To, msg)
			} else if reservedRE.MatchString(m.To) || strings.HasPrefix(m.To, "i-") || m.To == c.Uplink.Bridge {
				ck.add(p+".to", "link name %q is one the box uses for its own links", m.To)
			} else if !sinks[m.To] {
				sinks[m.To] = true // one capture link may collect several mirrors
				ck.link(p+".to", m.To)
			}
		}
	}
	for i, m := range c.Switch.Mirrors {
		if prev := mirrored[m.To]; prev != "" {
			ck.add(fmt.Sprintf("switch.mirrors[%d].to", i), "port %s is itself mirrored (%s): mirrors would loop", m.To, ck.loc.ref(prev))
		}
	}
}
