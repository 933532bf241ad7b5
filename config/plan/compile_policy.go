package plan

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/vswitch/policy"
)

// portPolicies compiles every workload NIC's policy (its own, then its
// VLAN's from switch.vlans, then the default guards) and switch.mirrors
// into the spec vswitch/policy applies. Every workload port gets one: the
// guards are on unless a policy turns them off.
func portPolicies(c *config.Config) (policy.Spec, []error) {
	var s policy.Spec
	var errs []error
	vlan := map[int]*config.PortPolicy{}
	for i := range c.Switch.VLANs {
		vlan[c.Switch.VLANs[i].VLAN] = &c.Switch.VLANs[i].Policy
	}
	slaac := map[int]netip.Prefix{}
	for _, a := range c.Uplink.Addresses {
		if p, err := netip.ParsePrefix(a.IPv6); err == nil && c.Uplink.AdvertisesIPv6(a) {
			slaac[a.VLAN] = p.Masked()
		}
	}
	links := map[string]string{}
	add := func(workload string, i int, n config.NIC, link string) {
		name := workload + "." + strconv.Itoa(i)
		links[name] = link
		v := n.VLAN
		if v == 0 {
			v = n.Native
		}
		p, err := portPolicy(name, link, n, n.Policy, vlan[v])
		if p.IPv6.IsValid() {
			p.SLAAC = slaac[v]
		}
		if err != nil {
			errs = append(errs, err)
		}
		s.Ports = append(s.Ports, p)
	}
	for _, vm := range c.VMs {
		for i, n := range vm.NICs {
			add(vm.Name, i, n, config.TAPName(vm.Name, i))
		}
	}
	for _, ct := range c.Containers {
		for i, n := range ct.NICs {
			add(ct.Name, i, n, config.VethName(ct.Name, i))
		}
	}
	for i, m := range c.Switch.Mirrors {
		pm := policy.Mirror{To: links[m.To]}
		if pm.To == "" {
			pm.To, pm.Create = m.To, true
		}
		for _, f := range m.From {
			l, ok := links[f]
			if !ok {
				errs = append(errs, fmt.Errorf("switch.mirrors[%d]: no port %s", i, f))
			}
			pm.From = append(pm.From, l)
		}
		s.Mirrors = append(s.Mirrors, pm)
	}
	return s, errs
}

// portPolicy merges a NIC's own policy over its VLAN's: the NIC's rules
// first, its other settings where it sets them.
func portPolicy(name, link string, n config.NIC, own, vlan *config.PortPolicy) (policy.Port, error) {
	p := policy.Port{Link: link, Name: name, MAC: n.MAC, SpoofGuard: true, BPDUGuard: true, RAGuard: true}
	if n.IPv4.Address != "" {
		if a, err := netip.ParsePrefix(n.IPv4.Address); err == nil {
			p.IPv4 = a.Addr()
		}
	}
	if n.IPv6.Address != "" {
		if a, err := netip.ParsePrefix(n.IPv6.Address); err == nil {
			p.IPv6 = a.Addr()
		}
	}
	var rate config.Rate
	for _, pol := range []*config.PortPolicy{vlan, own} {
		if pol == nil {
			continue
		}
		for _, g := range []struct {
			set *bool
			to  *bool
		}{{pol.SpoofGuard, &p.SpoofGuard}, {pol.BPDUGuard, &p.BPDUGuard}, {pol.RAGuard, &p.RAGuard}} {
			if g.set != nil {
				*g.to = *g.set
			}
		}
		if pol.Default != "" {
			p.DefaultDeny = pol.Default == config.PolicyDeny
		}
		if pol.Rate != "" {
			rate = pol.Rate
		}
	}
	if rate != "" {
		r, err := config.ParseRate(string(rate))
		if err != nil {
			return p, fmt.Errorf("%s: %w", name, err)
		}
		p.Rate = r
	}
	for _, pol := range []*config.PortPolicy{own, vlan} {
		if pol == nil {
			continue
		}
		for _, r := range pol.Rules {
			pr := policy.Rule{Allow: r.Action == config.PolicyAllow, In: r.Direction == config.PolicyIn,
				Proto: r.Proto, Port: uint16(r.Port)}
			if pr.Proto == "any" {
				pr.Proto = ""
			}
			if r.CIDR != "" {
				c, err := config.ParsePolicyCIDR(r.CIDR)
				if err != nil {
					return p, fmt.Errorf("%s: %w", name, err)
				}
				pr.CIDR = c
			}
			p.Rules = append(p.Rules, pr)
		}
	}
	return p, nil
}

// policyDetails sums up the policies for plan: one line per port and per
// mirror; the rules themselves are in the JSON output.
func policyDetails(s policy.Spec) []Detail {
	var ds []Detail
	for _, p := range s.Ports {
		var what []string
		var guards []string
		if p.SpoofGuard {
			g := "spoof (MAC " + p.MAC
			if p.IPv4.IsValid() {
				g += ", IPv4 " + p.IPv4.String()
			}
			if p.IPv6.IsValid() {
				g += ", IPv6 " + p.IPv6.String() + " and its MAC's link-local"
				if p.SLAAC.IsValid() {
					g += " and SLAAC"
				}
			}
			guards = append(guards, g+")")
		}
		if p.BPDUGuard {
			guards = append(guards, "BPDU")
		}
		if p.RAGuard {
			guards = append(guards, "RA")
		}
		if len(guards) > 0 {
			what = append(what, "guards "+strings.Join(guards, ", "))
		}
		if p.Rate > 0 {
			what = append(what, "rate "+rateText(p.Rate)+" each way")
		}
		for _, r := range p.Rules {
			what = append(what, strings.TrimSuffix(strings.TrimSuffix(r.String(), " accept"), " drop")+
				map[bool]string{true: " allow", false: " deny"}[r.Allow])
		}
		if p.DefaultDeny {
			what = append(what, "other IP out denied")
		}
		if len(what) == 0 {
			what = append(what, "no guards, no rules")
		}
		ds = append(ds, Detail{Key: p.Name + " (" + p.Link + ")", Value: strings.Join(what, "; ")})
	}
	for _, m := range s.Mirrors {
		to := m.To
		if m.Create {
			to += " (a dummy link nucbox creates)"
		}
		ds = append(ds, Detail{Key: "mirror", Value: strings.Join(slices.Clone(m.From), ", ") + " both ways to " + to})
	}
	return ds
}

func rateText(bps uint64) string {
	for _, u := range []struct {
		div  uint64
		unit string
	}{{1e9, "Gbit"}, {1e6, "Mbit"}, {1e3, "Kbit"}} {
		if bps >= u.div && bps%(u.div/1000) == 0 {
			return strconv.FormatFloat(float64(bps)/float64(u.div), 'f', -1, 64) + u.unit
		}
	}
	return strconv.FormatUint(bps, 10) + "bit"
}
