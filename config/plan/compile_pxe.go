package plan

import (
	"fmt"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/netcfg/pxed"
)

// pxe compiles pxe-server: the segment and the box's address there, the
// directories as absolute paths on the data partition, and proxyDHCP
// where the box leases no addresses itself.
func (b *compiler) pxe() pxed.Spec {
	p := b.c.PXEServer
	if p == nil {
		return pxed.Spec{}
	}
	seg, ok := config.PXESegmentOf(b.c)
	if !ok {
		b.fail("pxe-server: no box address on the segment")
		return pxed.Spec{}
	}
	configs, _ := config.DataPath(p.Configs)
	s := pxed.Spec{VLAN: seg.VLAN, Interface: seg.Interface, Server: seg.Server, ProxyDHCP: !seg.DHCP, Configs: configs}
	if p.Bundle != "" {
		s.Bundle, _ = config.DataPath(p.Bundle)
	}
	return s
}

// pxe describes the boot server for people.
func (b *builder) pxe() {
	p := b.c.PXEServer
	if p == nil {
		return
	}
	seg, ok := config.PXESegmentOf(b.c)
	if !ok {
		return
	}
	link := seg.Interface
	if link == "" {
		link = b.c.Uplink.Bridge + " (the lab network: on-uplink)"
	}
	mode := "proxyDHCP (another server leases the addresses)"
	if seg.DHCP {
		mode = "boot options in the box's DHCP leases"
	}
	configs, _ := config.DataPath(p.Configs)
	bundle := dflt("bundle", "the box's own kernel and initramfs (from its unified kernel image)")
	if p.Bundle != "" {
		dir, _ := config.DataPath(p.Bundle)
		bundle = b.d("bundle", dir, "pxe-server.bundle")
	}
	b.step(KindPXE, link, "",
		b.d("vlan", fmt.Sprint(seg.VLAN), "pxe-server.vlan"),
		b.d("server", seg.Server.Addr().String(), ""),
		b.d("dhcp", mode, ""),
		bundle,
		b.d("configs", configs+"/MAC.yaml over https (port 8444, the API certificate pinned on the kernel command line); no config: maintenance mode", "pxe-server.configs"),
		b.d("serves", "tftp 69, http 80 (boot.ipxe, vmlinuz, initramfs)", ""))
}
