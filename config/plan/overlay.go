package plan

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/vswitch"
)

// OverlayModules are the kernel modules the config's overlays and bond
// need; the module stage loads them with the config's own.
func OverlayModules(c *config.Config) []string {
	var out []string
	add := func(m string) {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	for _, o := range c.Overlays {
		if o.VXLAN != nil {
			add("vxlan")
		}
		if o.GRETap != nil {
			add("ip_gre")
		}
	}
	if c.Uplink.Interface.Bond != nil {
		add("bonding")
	}
	return out
}

// TunnelName is the link name of the tunnel carrying VLAN vid.
func TunnelName(o config.Overlay) string {
	if o.GRETap != nil {
		return "gretap" + strconv.Itoa(o.VLAN)
	}
	return "vxlan" + strconv.Itoa(o.VLAN)
}

// tunnels compiles the overlays into tunnel ports: each an access port
// of its VLAN. Their source address is the box's uplink address, which
// only the network stage knows (vswitch.Desired.WithTunnelSource).
func (b *compiler) tunnels() []vswitch.Port {
	var ports []vswitch.Port
	for i, o := range b.c.Overlays {
		p := vswitch.Port{Name: TunnelName(o), VLAN: o.VLAN, MTU: o.TunnelMTU(), Label: fmt.Sprintf("overlay/%d", o.VLAN), Tunnel: &vswitch.Tunnel{}}
		parse := func(where, s string) netip.Addr {
			a, err := netip.ParseAddr(s)
			if err != nil {
				b.fail("overlays[%d].%s: %w", i, where, err)
			}
			return a
		}
		switch {
		case o.VXLAN != nil:
			x := o.VXLAN
			p.Kind, p.Tunnel.VNI, p.Tunnel.Port = vswitch.KindVXLAN, x.VNI, x.Port
			for j, r := range x.Remotes {
				p.Tunnel.Remotes = append(p.Tunnel.Remotes, parse(fmt.Sprintf("vxlan.remotes[%d]", j), r))
			}
			if x.Group != "" {
				p.Tunnel.Group = parse("vxlan.group", x.Group)
			}
		case o.GRETap != nil:
			p.Kind = vswitch.KindGretap
			p.Tunnel.Remotes = []netip.Addr{parse("gretap.remote", o.GRETap.Remote)}
		}
		ports = append(ports, p)
	}
	return ports
}

// overlayMTU is the MTU of a workload port: the smallest of the overlays
// it reaches, so that its frames fit the tunnels; 0 (the kernel's) when it
// reaches none.
func (b *compiler) overlayMTU(p vswitch.Port) int {
	mtu := 0
	for _, v := range p.VLANs() {
		for _, o := range b.c.Overlays {
			if o.VLAN == v.ID && (mtu == 0 || o.TunnelMTU() < mtu) {
				mtu = o.TunnelMTU()
			}
		}
	}
	return mtu
}

// bond compiles the uplink bond.
func bondOf(c *config.Config) *vswitch.Bond {
	b := c.Uplink.Interface.Bond
	if b == nil {
		return nil
	}
	return &vswitch.Bond{Name: b.Name, Members: slices.Clone(b.Members), Mode: b.Mode}
}

// overlaySteps are the plan's lines for the overlays.
func (b *builder) overlaySteps() {
	for i, o := range b.c.Overlays {
		p := fmt.Sprintf("overlays[%d]", i)
		ds := []Detail{b.d("vlan", strconv.Itoa(o.VLAN)+" (access port, untagged)", p+".vlan")}
		switch {
		case o.VXLAN != nil:
			x := o.VXLAN
			ds = append(ds, b.d("vni", strconv.Itoa(x.VNI), p+".vxlan.vni"))
			if x.Group != "" {
				ds = append(ds, b.d("group", x.Group+" (multicast)", p+".vxlan.group"))
			} else {
				ds = append(ds, b.d("remotes", strings.Join(x.Remotes, ", ")+" (head-end replication)", p+".vxlan.remotes"))
			}
			ds = append(ds, b.d("udp port", strconv.Itoa(x.Port), p+".vxlan.port"))
		case o.GRETap != nil:
			ds = append(ds, b.d("remote", o.GRETap.Remote, p+".gretap.remote"))
		}
		mtu := b.d("mtu", strconv.Itoa(o.TunnelMTU()), p+".mtu")
		if o.MTU == 0 {
			mtu = dflt("mtu", strconv.Itoa(o.TunnelMTU())+": the VLAN's workload ports are lowered to it; the underlay stays 1500")
		}
		ds = append(ds, dflt("local", "the box's uplink address"), mtu, dflt("learning", "on"))
		b.step(KindOverlay, TunnelName(o), "", ds...)
	}
}

// overlayMTUOf is the MTU of the overlay carrying VLAN vid, 0 for none.
func overlayMTUOf(c *config.Config, vid int) int {
	for _, o := range c.Overlays {
		if o.VLAN == vid {
			return o.TunnelMTU()
		}
	}
	return 0
}
