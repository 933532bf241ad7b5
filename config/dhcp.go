package config

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// MinDHCPLease is the shortest lease the config may ask for: shorter
// ones turn every client's renewals into a steady load on PID 1.
const MinDHCPLease = Duration(time.Minute)

// ParseRange reads a DHCP range, "FIRST-LAST", two IPv4 addresses with
// FIRST not after LAST.
func ParseRange(s string) (first, last netip.Addr, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return first, last, errors.New("use FIRST-LAST such as 10.0.10.100-10.0.10.199")
	}
	first, err1 := netip.ParseAddr(strings.TrimSpace(a))
	last, err2 := netip.ParseAddr(strings.TrimSpace(b))
	switch {
	case err1 != nil || err2 != nil || !first.Is4() || !last.Is4():
		return first, last, errors.New("use two IPv4 addresses, FIRST-LAST, such as 10.0.10.100-10.0.10.199")
	case last.Less(first):
		return first, last, fmt.Errorf("the first address %s comes after the last %s", first, last)
	}
	return first, last, nil
}

// dhcpScope is one DHCP server of the config, as validation sees it.
type dhcpScope struct {
	path        string // of the dhcp mapping
	vlan        int
	box         netip.Prefix
	first, last netip.Addr
	ok          bool // the range parsed and lies in the subnet
}

func (s dhcpScope) inRange(a netip.Addr) bool {
	return s.ok && !a.Less(s.first) && !s.last.Less(a)
}

var domainLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// dhcp checks the DHCP servers and the DNS domain, after the workloads
// are known: a static workload address inside a dynamic range would be
// handed to another client too.
func (ck *checker) dhcp() {
	u := &ck.c.Uplink
	var scopes []dhcpScope
	for i, a := range u.Addresses {
		if a.DHCP == nil {
			continue
		}
		p := fmt.Sprintf("uplink.addresses[%d].dhcp", i)
		if carriedTagged(u.VLANs, a.VLAN) && !a.DHCP.OnUplink {
			ck.add(p+".on-uplink", "VLAN %d is carried by the uplink to the lab network, which may have its own DHCP server: set on-uplink: true to serve it anyway", a.VLAN)
		}
		pfx, _ := netip.ParsePrefix(a.Address)
		scopes = append(scopes, ck.dhcpServer(p, a.VLAN, pfx, a.DHCP))
	}
	if d := u.DHCPServer; d != nil {
		p := "uplink.dhcp-server"
		if !d.OnUplink {
			ck.add(p+".on-uplink", "this serves DHCP on the lab network (the uplink's native VLAN %d), where another DHCP server breaks the LAN: set on-uplink: true to mean it", u.NativeVLAN)
		}
		var pfx netip.Prefix
		if u.IPv4.DHCP || u.IPv4.Address == "" {
			ck.add(p, "serving DHCP on the lab network needs a static uplink.ipv4 address to serve from")
		} else {
			pfx, _ = netip.ParsePrefix(u.IPv4.Address)
		}
		scopes = append(scopes, ck.dhcpServer(p, u.NativeVLAN, pfx, d))
	}
	for i, s := range scopes {
		for _, o := range scopes[:i] {
			if s.ok && o.ok && !s.last.Less(o.first) && !o.last.Less(s.first) {
				ck.add(s.path+".range", "range %s-%s overlaps the range %s-%s of %s", s.first, s.last, o.first, o.last, ck.loc.ref(o.path+".range"))
			}
		}
	}
	eachNIC(ck.c, func(p, _ string, _ int, n *NIC) {
		if n.IPv4.DHCP || n.IPv4.Address == "" {
			return
		}
		pfx, err := netip.ParsePrefix(n.IPv4.Address)
		if err != nil {
			return
		}
		for _, s := range scopes {
			if s.inRange(pfx.Addr()) {
				ck.add(p+".ipv4.address", "address %s is inside the DHCP range %s-%s of %s, which could give it to another client: use an address outside the range (it is still given to this NIC by its MAC)",
					pfx.Addr(), s.first, s.last, ck.loc.ref(s.path+".range"))
			}
		}
	})
	ck.domain()
}

// dhcpServer checks one server on the box address box (invalid when the
// address was already reported).
func (ck *checker) dhcpServer(p string, vlan int, box netip.Prefix, d *DHCPServer) dhcpScope {
	s := dhcpScope{path: p, vlan: vlan, box: box}
	if d.Lease < MinDHCPLease {
		ck.add(p+".lease", "a lease of %s is too short: use at least %s", d.Lease, MinDHCPLease)
	}
	if d.MTU != 0 && (d.MTU < 576 || d.MTU > 9000) {
		ck.add(p+".mtu", "MTU %d out of range: must be between 576 and 9000", d.MTU)
	}
	if d.Range == "" {
		ck.add(p+".range", "required: the addresses to hand out, such as 10.0.10.100-10.0.10.199")
		return s
	}
	first, last, err := ParseRange(d.Range)
	if err != nil {
		ck.add(p+".range", "invalid range %q: %v", d.Range, err)
		return s
	}
	if !box.IsValid() {
		return s
	}
	sub := box.Masked()
	switch {
	case !sub.Contains(first) || !sub.Contains(last):
		ck.add(p+".range", "range %s is outside the subnet %s of the box's address %s", d.Range, sub, box.Addr())
		return s
	case box.Bits() <= 30 && (first == sub.Addr() || last == broadcast(box)):
		ck.add(p+".range", "range %s includes the subnet's network or broadcast address", d.Range)
		return s
	case !box.Addr().Less(first) && !last.Less(box.Addr()):
		ck.add(p+".range", "range %s includes the box's own address %s", d.Range, box.Addr())
		return s
	}
	s.first, s.last, s.ok = first, last, true
	return s
}

// ntpServe checks that time.serve has somewhere to serve.
func (ck *checker) ntpServe() {
	if ck.c.Time.Serve && len(NTPVLANs(ck.c)) == 0 {
		ck.add("time.serve", "the box serves NTP on its internal VLAN addresses, and has none: add one to uplink.addresses (on a VLAN the uplink does not carry)")
	}
}

// NTPVLANs are the VLANs of the box addresses that time.serve serves:
// every one of uplink.addresses with an IPv4 or IPv6 address (the
// server's) whose VLAN the uplink does not carry to the lab network.
func NTPVLANs(c *Config) []int {
	var out []int
	for _, a := range c.Uplink.Addresses {
		if (a.Address != "" || a.IPv6 != "") && !carriedTagged(c.Uplink.VLANs, a.VLAN) {
			out = append(out, a.VLAN)
		}
	}
	return out
}

func carriedTagged(vlans []int, v int) bool {
	for _, x := range vlans {
		if x == v {
			return true
		}
	}
	return false
}

// domain checks dns.domain as a DNS name of lower-case labels.
func (ck *checker) domain() {
	d := ck.c.DNS.Domain
	if d == "" {
		return
	}
	if len(d) > 200 {
		ck.add("dns.domain", "domain %q is too long: a name under it must fit in 253 characters", d)
		return
	}
	for _, l := range strings.Split(d, ".") {
		if !domainLabelRE.MatchString(l) {
			ck.add("dns.domain", "invalid domain %q: use dot-separated labels of lower-case letters, digits and inner dashes, such as lab or lab.example", d)
			return
		}
	}
}

// servedStatic reports whether the VM NIC n's static address is given by
// the box's DHCP server on its VLAN, which then needs no cloud-init.
func (c *Config) servedStatic(n *NIC) bool {
	if n.IPv4.DHCP || n.IPv4.Address == "" {
		return false
	}
	pfx, err := netip.ParsePrefix(n.IPv4.Address)
	if err != nil {
		return false
	}
	vlan := n.VLAN
	if len(n.Trunk) > 0 {
		vlan = n.Native
	}
	u := &c.Uplink
	for _, a := range u.Addresses {
		if a.DHCP != nil && a.VLAN == vlan {
			box, err := netip.ParsePrefix(a.Address)
			return err == nil && box.Masked().Contains(pfx.Addr())
		}
	}
	if u.DHCPServer != nil && vlan == u.NativeVLAN && !u.IPv4.DHCP {
		box, err := netip.ParsePrefix(u.IPv4.Address)
		return err == nil && box.Masked().Contains(pfx.Addr())
	}
	return false
}
