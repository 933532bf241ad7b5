package config

import (
	"net/netip"
	"path"
	"strings"
)

// PXEServer makes the box the boot server of the machines on one of its
// segments: they boot the box's own kernel and initramfs and fetch their
// config by MAC from Configs. On a segment where the box serves DHCP
// (a VLAN address with dhcp:, or uplink.dhcp-server) the boot options
// come with the box's leases; elsewhere the box answers PXE clients as
// a proxyDHCP server and leaves the addresses to the segment's own.
type PXEServer struct {
	// VLAN is the segment served: the box's address on it (one of
	// uplink.addresses) is the boot server's. Zero with OnUplink serves
	// the uplink's native VLAN, the lab network.
	VLAN int `yaml:"vlan,omitempty" json:"vlan,omitempty" jsonschema:"minimum=1,maximum=4094" jsonschema_description:"VLAN whose box address (in uplink.addresses) serves the boot; leave out with on-uplink: true to serve the lab network (the uplink's native VLAN)"`
	// OnUplink is the opt-in for the lab network itself (the uplink's
	// native VLAN): a rogue boot server there reinstalls whatever boots
	// from the network. A tagged VLAN named by vlan: is the rack's own.
	OnUplink bool `yaml:"on-uplink,omitempty" json:"on-uplink,omitempty" jsonschema_description:"Serve on the lab network itself (the uplink's native VLAN, untagged): every machine there that boots from the network boots this box's image"`
	// Configs is the directory of per-MAC configs (52:54:00:12:34:56.yaml,
	// with .sig beside it for an image with a config key), on the data
	// partition.
	Configs string `yaml:"configs" json:"configs" jsonschema:"required" jsonschema_description:"Directory on the data partition (relative to it, or an absolute path under /var/lib/nucbox) with one config per machine, named by MAC: 52:54:00:12:34:56.yaml"`
	// Bundle is a directory on the data partition with the kernel and
	// initramfs to serve (vmlinuz, initramfs), for a box that did not
	// boot from a unified kernel image it can serve itself.
	Bundle string `yaml:"bundle,omitempty" json:"bundle,omitempty" jsonschema_description:"Directory on the data partition with vmlinuz and initramfs to serve, as nucbox image build --pxe writes them (default: the box's own unified kernel image)"`
}

// PXESegment is where a config's pxe-server serves: the VLAN, its
// interface (empty for the link holding the uplink address), the box's
// address there, and whether the box leases addresses there itself.
type PXESegment struct {
	VLAN      int
	Interface string
	Server    netip.Prefix
	DHCP      bool
}

// PXESegmentOf resolves c's pxe-server; ok is false without one or when
// validation reported it.
func PXESegmentOf(c *Config) (s PXESegment, ok bool) {
	p := c.PXEServer
	if p == nil {
		return s, false
	}
	u := &c.Uplink
	if p.VLAN == 0 || p.VLAN == u.NativeVLAN {
		if u.IPv4.DHCP || u.IPv4.Address == "" {
			return s, false
		}
		pfx, err := netip.ParsePrefix(u.IPv4.Address)
		return PXESegment{VLAN: u.NativeVLAN, Server: pfx, DHCP: u.DHCPServer != nil}, err == nil
	}
	for _, a := range u.Addresses {
		if a.VLAN == p.VLAN {
			pfx, err := netip.ParsePrefix(a.Address)
			return PXESegment{VLAN: a.VLAN, Interface: VLANIfName(a.VLAN), Server: pfx, DHCP: a.DHCP != nil}, err == nil
		}
	}
	return s, false
}

// DataPath is dir (relative to the data partition, or absolute under it)
// as an absolute path; ok is false for one outside the data partition.
func DataPath(dir string) (string, bool) {
	if dir == "" {
		return "", false
	}
	if strings.Contains("/"+dir+"/", "/../") {
		return "", false
	}
	p := dir
	if !path.IsAbs(p) {
		p = path.Join(DefaultStateDir, p)
	}
	p = path.Clean(p)
	return p, p != DefaultStateDir && strings.HasPrefix(p, DefaultStateDir+"/")
}

// pxeServer checks pxe-server: a segment with a box address to serve
// from, the opt-in where the segment reaches the lab network, and
// directories on the data partition. A tagged VLAN needs no opt-in: it
// is named, and the lab switch gives it to the rack's ports only.
func (ck *checker) pxeServer() {
	p := ck.c.PXEServer
	if p == nil {
		return
	}
	u := &ck.c.Uplink
	native := p.VLAN == 0 || p.VLAN == u.NativeVLAN
	switch {
	case native && !p.OnUplink:
		at := "pxe-server"
		if p.VLAN != 0 {
			at = "pxe-server.vlan"
		}
		ck.add(at, "this serves network boots on the lab network (the uplink's native VLAN %d), where every machine that boots from the network would boot this box's image: set on-uplink: true to mean it, or name an internal VLAN with vlan:", u.NativeVLAN)
	case native && (u.IPv4.DHCP || u.IPv4.Address == ""):
		ck.add("pxe-server.on-uplink", "serving network boots on the lab network needs a static uplink.ipv4 address: the machines are sent to it")
	}
	if !native {
		found := false
		for _, a := range u.Addresses {
			found = found || a.VLAN == p.VLAN
		}
		if !found {
			ck.add("pxe-server.vlan", "VLAN %d has no box address to serve from: add {vlan: %d, address: ...} to uplink.addresses", p.VLAN, p.VLAN)
		}
	}
	if p.Configs == "" {
		ck.add("pxe-server", "configs is required: the directory on the data partition with one config per machine, such as racks")
	} else if _, ok := DataPath(p.Configs); !ok {
		ck.add("pxe-server.configs", "%q is not on the data partition: use a directory relative to it, such as racks, or an absolute path under %s", p.Configs, DefaultStateDir)
	}
	if p.Bundle != "" {
		if _, ok := DataPath(p.Bundle); !ok {
			ck.add("pxe-server.bundle", "%q is not on the data partition: use a directory relative to it, such as pxe, or an absolute path under %s", p.Bundle, DefaultStateDir)
		}
	}
}
