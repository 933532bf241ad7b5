package vswitch

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/nucbox/nucbox/config"
)

// FromConfig is the switch a config asks for. Defaults the loader fills
// (config.ApplyDefaults) are filled here too, so a hand-built Config works. uplink is the link netcfg
// selected; it becomes a trunk port carrying the configured VLANs tagged
// and the native VLAN untagged. A NIC without VLANs is an access port in
// the native VLAN, on the lab network like the box itself.
func FromConfig(c *config.Config, uplink string) (Desired, error) {
	var errs []error
	native := c.Uplink.NativeVLAN
	if native == 0 {
		native = config.DefaultNativeVLAN
	}
	d := Desired{Bridge: Bridge{Name: c.Uplink.Bridge, VLANFiltering: true, NativeVLAN: native}}
	if d.Bridge.Name == "" {
		d.Bridge.Name = config.DefaultBridge
	}
	if uplink != "" {
		d.Ports = append(d.Ports, Port{Name: uplink, Kind: KindExternal, Label: "uplink", Trunk: c.Uplink.VLANs, Native: native})
	}
	nicPort := func(kind PortKind, workload string, i int, n config.NIC) Port {
		p := Port{
			Name:   config.TAPName(workload, i),
			Kind:   kind,
			Label:  fmt.Sprintf("%s/%s/%d", map[PortKind]string{KindTAP: "vm", KindVeth: "ct"}[kind], workload, i),
			VLAN:   n.VLAN,
			Trunk:  n.Trunk,
			Native: n.Native,
		}
		if p.VLAN == 0 && len(p.Trunk) == 0 && p.Native == 0 {
			p.VLAN = native
		}
		if kind == KindVeth {
			p.Name = config.VethName(workload, i)
		}
		if n.MAC == "" {
			p.MAC = config.DeriveMAC(c.Hostname, workload, i)
		} else if m, err := net.ParseMAC(n.MAC); err != nil {
			errs = append(errs, fmt.Errorf("%s: NIC %d: %w", workload, i, err))
		} else {
			p.MAC = m
		}
		if kind == KindVeth {
			p.Peer = PeerName(workload, i)
		}
		return p
	}
	for _, vm := range c.VMs {
		for i, n := range vm.NICs {
			d.Ports = append(d.Ports, nicPort(KindTAP, vm.Name, i, n))
		}
	}
	for _, ct := range c.Containers {
		for i, n := range ct.NICs {
			d.Ports = append(d.Ports, nicPort(KindVeth, ct.Name, i, n))
		}
	}
	for _, a := range c.Uplink.Addresses {
		p, err := netip.ParsePrefix(a.Address)
		if err != nil {
			errs = append(errs, fmt.Errorf("uplink address on VLAN %d: %w", a.VLAN, err))
			continue
		}
		d.Addresses = append(d.Addresses, VLANAddress{VLAN: a.VLAN, Prefix: p})
	}
	if err := errors.Join(errs...); err != nil {
		return d, err
	}
	return d, d.Validate()
}
