package plan

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/netcfg/dhcpd"
	"github.com/nucbox/nucbox/netcfg/dnsd"
	"github.com/nucbox/nucbox/netcfg/ntpd"
)

// serve compiles the box's DHCP scopes, its DNS server and its NTP
// server: a scope per box address with dhcp (and the native VLAN's with
// uplink.dhcp-server), whose known hosts are the workload NICs on its
// VLAN; DNS on every internal VLAN scope's address, with the workloads'
// static addresses as names; with time.serve, NTP on every internal VLAN
// address, IPv4 and IPv6, which that VLAN's scope sends as option 42
// (IPv6 clients are told nothing: the box serves no DHCPv6 option 56).
func (b *compiler) serve() (dhcpd.Spec, dnsd.Spec, ntpd.Spec) {
	c := b.c
	u := &c.Uplink
	var ds dhcpd.Spec
	dns := dnsd.Spec{Domain: c.DNS.Domain}
	var ntp ntpd.Spec
	ntpOn := ntpVLANs(c)
	for _, a := range u.Addresses {
		if !ntpOn[a.VLAN] {
			continue
		}
		for _, s := range []string{a.Address, a.IPv6} {
			if box, err := netip.ParsePrefix(s); err == nil {
				ntp.Listen = append(ntp.Listen, ntpd.Listener{Interface: config.VLANIfName(a.VLAN), Address: box})
			}
		}
	}
	names := map[string][]netip.Addr{}
	for _, a := range u.Addresses {
		if a.DHCP == nil {
			continue
		}
		box, err := netip.ParsePrefix(a.Address)
		if err != nil {
			b.fail("uplink address on VLAN %d: %w", a.VLAN, err)
			continue
		}
		link := config.VLANIfName(a.VLAN)
		sc := b.scope(a.VLAN, link, box, a.DHCP, names)
		if a.NAT {
			sc.Router = box.Addr()
		}
		sc.DNS = []netip.Addr{box.Addr()}
		if ntpOn[a.VLAN] {
			sc.NTP = []netip.Addr{box.Addr()}
		}
		ds.Scopes = append(ds.Scopes, sc)
		dns.Listen = append(dns.Listen, dnsd.Listener{Interface: link, Address: box})
	}
	if d := u.DHCPServer; d != nil {
		box, err := netip.ParsePrefix(u.IPv4.Address)
		if err != nil {
			b.fail("uplink.dhcp-server: the uplink has no static address: %w", err)
		} else {
			// The lab network is no client of the box's DNS: its
			// clients get the uplink's resolvers and gateway.
			sc := b.scope(u.NativeVLAN, "", box, d, names)
			if u.IPv4.Gateway != "" {
				sc.Router, _ = netip.ParseAddr(u.IPv4.Gateway)
			}
			for _, s := range u.DNS {
				if a, err := netip.ParseAddr(s); err == nil {
					sc.DNS = append(sc.DNS, a)
				}
			}
			ds.Scopes = append(ds.Scopes, sc)
		}
	}
	b.ipv6Names(names)
	keys := make([]string, 0, len(names))
	for n := range names {
		keys = append(keys, n)
	}
	slices.Sort(keys)
	for _, n := range keys {
		dns.Hosts = append(dns.Hosts, dnsd.Host{Name: n, Addresses: names[n]})
	}
	return ds, dns, ntp
}

// servesDNS reports whether the box's DNS server answers on a's VLAN:
// where it serves DHCP, and on an IPv6-only VLAN it advertises (its
// router adverts name the box as resolver, there being no DHCP server to).
func servesDNS(u *config.Uplink, a config.VLANAddress) bool {
	return a.DHCP != nil || (a.Address == "" && u.AdvertisesIPv6(a))
}

// ipv6Names adds the workloads' static IPv6 addresses (AAAA records) on
// the VLANs whose box DNS serves names, inside the box's IPv6 prefix
// there.
func (b *compiler) ipv6Names(names map[string][]netip.Addr) {
	u := &b.c.Uplink
	prefixes := map[int]netip.Prefix{}
	for _, a := range u.Addresses {
		if p, err := netip.ParsePrefix(a.IPv6); err == nil && servesDNS(u, a) {
			prefixes[a.VLAN] = p.Masked()
		}
	}
	add := func(workload string, nics []config.NIC) {
		for _, n := range nics {
			v := n.VLAN
			if len(n.Trunk) > 0 {
				v = n.Native
			}
			pfx, ok := prefixes[v]
			if !ok || n.IPv6.IsZero() {
				continue
			}
			if p, err := netip.ParsePrefix(n.IPv6.Address); err == nil && pfx.Contains(p.Addr()) {
				names[workload] = append(names[workload], p.Addr())
			}
		}
	}
	for _, vm := range b.c.VMs {
		add(vm.Name, vm.NICs)
	}
	for _, ct := range b.c.Containers {
		add(ct.Name, ct.NICs)
	}
}

// scope is one DHCP scope; the workloads' static addresses inside it are
// added to names.
func (b *compiler) scope(vlan int, link string, box netip.Prefix, d *config.DHCPServer, names map[string][]netip.Addr) dhcpd.Scope {
	first, last, err := config.ParseRange(d.Range)
	if err != nil {
		b.fail("DHCP range on VLAN %d: %w", vlan, err)
	}
	sc := dhcpd.Scope{VLAN: vlan, Interface: link, Server: box, First: first, Last: last,
		Lease: d.Lease.Std(), Domain: b.c.DNS.Domain, MTU: d.MTU}
	if sc.MTU == 0 {
		// A VLAN carried over a tunnel tells its DHCP clients (VMs) the
		// tunnel's MTU, as the box sets it on its containers itself.
		sc.MTU = overlayMTUOf(b.c, vlan)
	}
	add := func(workload string, n config.NIC) {
		v := n.VLAN
		if len(n.Trunk) > 0 {
			v = n.Native
		}
		if v != vlan {
			return
		}
		m, err := net.ParseMAC(n.MAC)
		if err != nil {
			b.fail("%s: NIC MAC: %w", workload, err)
			return
		}
		h := dhcpd.Host{MAC: m.String(), Name: workload}
		if !n.IPv4.DHCP && n.IPv4.Address != "" {
			if p, err := netip.ParsePrefix(n.IPv4.Address); err == nil && box.Masked().Contains(p.Addr()) {
				h.Address = p.Addr()
				names[workload] = append(names[workload], p.Addr())
			}
		}
		sc.Hosts = append(sc.Hosts, h)
	}
	for _, vm := range b.c.VMs {
		for _, n := range vm.NICs {
			add(vm.Name, n)
		}
	}
	for _, ct := range b.c.Containers {
		for _, n := range ct.NICs {
			add(ct.Name, n)
		}
	}
	return sc
}

// serve describes the DHCP and DNS servers for people.
func (b *builder) serve() {
	c := b.c
	u := &c.Uplink
	var listen []string
	ntpOn := ntpVLANs(c)
	step := func(p, link string, vlan int, d *config.DHCPServer, router, dns string) {
		ds := []Detail{
			b.d("vlan", fmt.Sprint(vlan), ""),
			b.d("range", d.Range, p+".range"),
			b.d("lease", d.Lease.String(), p+".lease"),
			b.d("router", router, ""),
			b.d("dns", dns, ""),
			b.d("domain", c.DNS.Domain, "dns.domain"),
		}
		if ntpOn[vlan] && p != "uplink.dhcp-server" {
			ds = append(ds, b.d("ntp", dns, "time.serve"))
		}
		if d.MTU != 0 {
			ds = append(ds, b.d("mtu", fmt.Sprint(d.MTU), p+".mtu"))
		} else if m := overlayMTUOf(c, vlan); m != 0 {
			ds = append(ds, dflt("mtu", fmt.Sprint(m)+" (the overlay's)"))
		}
		for _, h := range b.fixed(vlan) {
			ds = append(ds, b.d("fixed lease", h, ""))
		}
		b.step(KindDHCP, link, "", ds...)
	}
	for i, a := range u.Addresses {
		if a.DHCP == nil {
			continue
		}
		box, _, _ := strings.Cut(a.Address, "/")
		router := "none (no nat)"
		if a.NAT {
			router = box
		}
		link := config.VLANIfName(a.VLAN)
		step(fmt.Sprintf("uplink.addresses[%d].dhcp", i), link, a.VLAN, a.DHCP, router, box+" (the box)")
		listen = append(listen, box+" on "+link)
	}
	if d := u.DHCPServer; d != nil {
		router := "none"
		if u.IPv4.Gateway != "" {
			router = u.IPv4.Gateway
		}
		dns := "none"
		if len(u.DNS) > 0 {
			dns = strings.Join(u.DNS, ", ")
		}
		step("uplink.dhcp-server", u.Bridge, u.NativeVLAN, d, router, dns+" (the lab network: on-uplink)")
	}
	if len(listen) > 0 {
		b.step(KindDNS, c.DNS.Domain, "",
			b.d("listen", strings.Join(listen, ", ")+" (udp and tcp 53)", ""),
			b.d("names", "NAME."+c.DNS.Domain+" for workloads (config, leases) and DHCP clients' host names", "dns.domain"),
			b.d("forward", "other names to the uplink's resolvers, cached", ""),
			b.d("refused", "queries from outside the VLAN's subnet (the lab network)", ""))
	}
}

// ntpServer describes the NTP server for people.
func (b *builder) ntpServer() {
	ntpOn := ntpVLANs(b.c)
	var ntp []string
	for _, a := range b.c.Uplink.Addresses {
		if !ntpOn[a.VLAN] {
			continue
		}
		for _, s := range []string{a.Address, a.IPv6} {
			if box, _, _ := strings.Cut(s, "/"); box != "" {
				ntp = append(ntp, box+" on "+config.VLANIfName(a.VLAN))
			}
		}
	}
	if len(ntp) > 0 {
		b.step(KindTime, "ntp server", "",
			b.d("listen", strings.Join(ntp, ", ")+" (udp 123)", "time.serve"),
			b.d("answers", "stratum 16 (not synced) until the box's clock has synced, then the upstream's stratum + 1", ""),
			b.d("dropped", "requests from outside the VLAN's subnet", ""))
	}
}

// fixed lists the fixed leases on vlan as "NAME MAC -> ADDRESS".
func (b *builder) fixed(vlan int) []string {
	var out []string
	each := func(name string, nics []config.NIC) {
		for _, n := range nics {
			v := n.VLAN
			if len(n.Trunk) > 0 {
				v = n.Native
			}
			if v == vlan && !n.IPv4.DHCP && n.IPv4.Address != "" {
				a, _, _ := strings.Cut(n.IPv4.Address, "/")
				out = append(out, fmt.Sprintf("%s %s -> %s", name, n.MAC, a))
			}
		}
	}
	for _, vm := range b.c.VMs {
		each(vm.Name, vm.NICs)
	}
	for _, ct := range b.c.Containers {
		each(ct.Name, ct.NICs)
	}
	return out
}

// ntpVLANs are the VLANs the box serves NTP on (time.serve).
func ntpVLANs(c *config.Config) map[int]bool {
	on := map[int]bool{}
	if c.Time.Serve {
		for _, v := range config.NTPVLANs(c) {
			on[v] = true
		}
	}
	return on
}
