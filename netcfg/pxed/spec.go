package pxed

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
)

// Ports of the servers, besides DHCP's 67.
const (
	TFTPPort   = 69
	HTTPPort   = 80
	ConfigPort = 8444
	ProxyPort  = 4011
)

// Bundle file names: the iPXE script and what it boots, as image/pxe
// writes a bundle.
const (
	ScriptName = "boot.ipxe"
	KernelName = "vmlinuz"
	InitrdName = "initramfs"
)

// Spec is the boot server of the box; the zero Spec serves nothing.
type Spec struct {
	// VLAN names the segment in logs and status.
	VLAN int `json:"vlan"`
	// Interface is the link served (vlan30); empty is the link holding
	// the box's uplink address, which the caller names at Apply.
	Interface string `json:"interface,omitempty"`
	// Server is the box's address on the segment, with its length.
	Server netip.Prefix `json:"server"`
	// ProxyDHCP answers PXE clients' discovers with boot options only:
	// another server leases the addresses. Without it the box's own DHCP
	// server on the segment adds them (BootOptions).
	ProxyDHCP bool `json:"proxy-dhcp,omitempty"`
	// Configs is the directory of per-MAC configs.
	Configs string `json:"configs"`
	// Bundle is a directory with the kernel and initramfs to serve; empty
	// serves the box's own (Options.Bundle).
	Bundle string `json:"bundle,omitempty"`
}

// Enabled reports whether s serves anything.
func (s Spec) Enabled() bool { return s.Server.IsValid() }

// Validate reports every inconsistency of s at once.
func (s Spec) Validate() error {
	if !s.Enabled() {
		return nil
	}
	var errs []error
	if !s.Server.Addr().Is4() {
		errs = append(errs, fmt.Errorf("pxe server: %s is not an IPv4 address", s.Server))
	}
	if !filepath.IsAbs(s.Configs) {
		errs = append(errs, fmt.Errorf("pxe server: configs directory %q is not absolute", s.Configs))
	}
	if s.Bundle != "" && !filepath.IsAbs(s.Bundle) {
		errs = append(errs, fmt.Errorf("pxe server: bundle directory %q is not absolute", s.Bundle))
	}
	if len(s.Interface) > 15 {
		errs = append(errs, fmt.Errorf("pxe server: interface name %q longer than 15 bytes", s.Interface))
	}
	return errors.Join(errs...)
}

// Bundle is what the rack boots: a directory with KernelName and
// InitrdName, and the kernel command line to boot them with.
type Bundle struct {
	Dir     string
	Cmdline string
	// Source says where the files came from, for status and the log.
	Source string
}
