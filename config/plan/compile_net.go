package plan

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/netcfg"
	"github.com/nucbox/nucbox/netcfg/pxed"
	"github.com/nucbox/nucbox/vswitch"
)

// network compiles the uplink section: the box's own network, the NAT
// rules, and the switch without the workloads' ports. The bridge and the
// uplink port are built here once and shared by netcfg's takeover and the
// switch. The bridge always filters VLANs: that is what the box is for;
// tests on kernels without filtering build their specs by hand.
func (b *compiler) network() (netcfg.Spec, vswitch.Desired) {
	c := b.c
	u := &c.Uplink
	bridge := vswitch.Bridge{Name: u.Bridge, VLANFiltering: true, NativeVLAN: u.NativeVLAN}
	uplink := vswitch.Port{Kind: vswitch.KindExternal, Label: "uplink", Trunk: slices.Clone(u.VLANs), Native: u.NativeVLAN}

	s := netcfg.Spec{
		Hostname:   c.Hostname,
		Uplink:     netcfg.Selector{CarrierTimeout: u.CarrierTimeout.Std()},
		Bridge:     bridge,
		UplinkPort: uplink,
		Probe:      netcfg.Probe{Timeout: u.Probe.Timeout.Std(), Disabled: u.Probe.Disabled},
	}
	if u.MAC != "" {
		m, err := net.ParseMAC(u.MAC)
		if err != nil {
			b.fail("uplink.mac: %w", err)
		}
		s.Uplink.MAC = m
	} else if bd := bondOf(c); bd != nil {
		s.Uplink.Name, s.Uplink.Bond = bd.Name, bd
	} else if u.Interface.Name != config.DefaultInterface {
		s.Uplink.Name = u.Interface.Name
	}
	if u.IPv4.DHCP {
		s.IPv4.DHCP = true
	} else {
		s.IPv4.Address, s.IPv4.Gateway = b.ipv4("uplink.ipv4", u.IPv4)
	}
	s.IPv6 = b.uplinkIPv6(u.IPv6)
	for i, d := range u.DNS {
		a, err := netip.ParseAddr(d)
		if err != nil {
			b.fail("uplink.dns[%d]: %w", i, err)
		}
		s.DNS = append(s.DNS, a)
	}
	if u.Probe.Target != "" {
		a, err := netip.ParseAddr(u.Probe.Target)
		if err != nil {
			b.fail("uplink.probe.target: %w", err)
		}
		s.Probe.Target = a
	}

	sw := vswitch.Desired{Bridge: bridge, Uplink: uplink, Ports: b.tunnels()}
	for _, a := range u.Addresses {
		if a.Address != "" {
			p, err := netip.ParsePrefix(a.Address)
			if err != nil {
				b.fail("uplink address on VLAN %d: %w", a.VLAN, err)
				continue
			}
			sw.Addresses = append(sw.Addresses, vswitch.VLANAddress{VLAN: a.VLAN, Link: config.VLANIfName(a.VLAN), Prefix: p})
		}
		if a.IPv6 != "" {
			p6, err := netip.ParsePrefix(a.IPv6)
			if err != nil {
				b.fail("uplink IPv6 address on VLAN %d: %w", a.VLAN, err)
				continue
			}
			sw.Addresses = append(sw.Addresses, vswitch.VLANAddress{VLAN: a.VLAN, Link: config.VLANIfName(a.VLAN), Prefix: p6})
		}
	}
	return s, sw
}

// firewall compiles the box's packet filter: one segment per box address
// on a VLAN, masqueraded with nat, with the API's port open where
// api.vlans lists the VLAN.
func (b *compiler) firewall() netcfg.Firewall {
	c := b.c
	var api uint16
	if len(c.API.VLANs) > 0 {
		_, port, err := net.SplitHostPort(c.API.Listen)
		n, perr := strconv.ParseUint(port, 10, 16)
		if err != nil || perr != nil || n == 0 {
			b.fail("api.vlans: no TCP port in api.listen %q", c.API.Listen)
		}
		api = uint16(n)
	}
	ntp := ntpVLANs(c)
	var f netcfg.Firewall
	f.UplinkIPv6 = b.uplinkIPv6(c.Uplink.IPv6).Mode
	for _, a := range c.Uplink.Addresses {
		s := netcfg.Segment{Interface: config.VLANIfName(a.VLAN), NAT: a.NAT}
		// Parse errors are reported by network.
		if p, err := netip.ParsePrefix(a.Address); err == nil {
			s.Subnet = p.Masked()
		}
		if p, err := netip.ParsePrefix(a.IPv6); err == nil {
			s.Subnet6 = p.Masked()
		}
		if api != 0 && slices.Contains(c.API.VLANs, a.VLAN) {
			s.TCP = []uint16{api}
		}
		switch {
		case a.DHCP != nil:
			// DNS and DHCP, served on this VLAN.
			s.TCP = append(s.TCP, 53)
			s.UDP = []uint16{53, 67}
		case servesDNS(&c.Uplink, a):
			// DNS alone, on an IPv6-only VLAN.
			s.TCP = append(s.TCP, 53)
			s.UDP = []uint16{53}
		}
		if ntp[a.VLAN] {
			s.UDP = append(s.UDP, 123)
		}
		if seg, ok := config.PXESegmentOf(c); ok && seg.VLAN == a.VLAN && seg.Interface != "" {
			// The boot server: TFTP, the bundle over HTTP, the configs
			// over HTTPS, and proxyDHCP where the box leases nothing.
			s.TCP = append(s.TCP, pxed.HTTPPort, pxed.ConfigPort)
			s.UDP = append(s.UDP, pxed.TFTPPort)
			if !seg.DHCP {
				s.UDP = append(s.UDP, 67, pxed.ProxyPort)
			}
		}
		f.Segments = append(f.Segments, s)
	}
	return f
}

// uplinkIPv6 compiles the box's IPv6 on the lab network.
func (b *compiler) uplinkIPv6(a config.UplinkIPv6) netcfg.IPv6 {
	if a.Mode != "" {
		return netcfg.IPv6{Mode: a.Mode}
	}
	s := netcfg.IPv6{Mode: netcfg.IPv6Static}
	var err error
	if s.Address, err = netip.ParsePrefix(a.Address); err != nil {
		b.fail("uplink.ipv6.address: %w", err)
	}
	if a.Gateway != "" {
		if s.Gateway, err = netip.ParseAddr(a.Gateway); err != nil {
			b.fail("uplink.ipv6.gateway: %w", err)
		}
	}
	return s
}

// nicPort is the bridge port of NIC i of a workload: a TAP for a VM, a
// veth for a container, named by config's naming functions, with the
// NIC's VLANs and MAC. A NIC's MAC comes from config.ApplyDefaults
// (derived unless given); one that is missing or does not parse is
// reported.
func (b *compiler) nicPort(kind vswitch.PortKind, workload string, i int, n config.NIC) vswitch.Port {
	p := vswitch.Port{
		Kind:   kind,
		VLAN:   n.VLAN,
		Trunk:  slices.Clone(n.Trunk),
		Native: n.Native,
	}
	switch kind {
	case vswitch.KindTAP:
		p.Name, p.Label = config.TAPName(workload, i), fmt.Sprintf("vm/%s/%d", workload, i)
	case vswitch.KindVeth:
		p.Name, p.Label = config.VethName(workload, i), fmt.Sprintf("ct/%s/%d", workload, i)
		p.Peer = config.PeerName(workload, i)
	}
	p.MTU = b.overlayMTU(p)
	switch m, err := net.ParseMAC(n.MAC); {
	case n.MAC == "":
		b.fail("%s: NIC %d: no MAC (the config was not defaulted)", workload, i)
	case err != nil:
		b.fail("%s: NIC %d: %w", workload, i, err)
	default:
		p.MAC = m
	}
	return p
}
