package pxed

import (
	"net"
	"net/netip"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// NBP names: what a PXE ROM that is not iPXE is sent, by its
// architecture, when the bundle has it; iPXE then loads the script.
const (
	BIOSLoader = "undionly.kpxe"
	EFILoader  = "ipxe.efi"
)

// pxeClient reports whether req comes from network boot firmware: PXE
// ROMs and iPXE send the vendor class PXEClient:Arch:...
func pxeClient(req *dhcpv4.DHCPv4) bool {
	return strings.HasPrefix(req.ClassIdentifier(), "PXEClient")
}

// ipxe reports whether req comes from iPXE, which runs the script
// itself (it says so in the user class, option 77).
func ipxe(req *dhcpv4.DHCPv4) bool {
	for _, uc := range req.UserClass() {
		if uc == "iPXE" {
			return true
		}
	}
	return false
}

// bootFile is the file a PXE client is sent to: the script for iPXE; a
// loader of iPXE for other firmware, when the bundle has one for its
// architecture (option 93), else the script all the same, which such
// firmware cannot run: the log says why it did not boot.
func bootFile(req *dhcpv4.DHCPv4, has func(string) bool) string {
	if ipxe(req) {
		return ScriptName
	}
	loader := BIOSLoader
	for _, a := range req.ClientArch() {
		if a == iana.EFI_X86_64 || a == iana.EFI_BC || a == iana.EFI_X86_64_HTTP {
			loader = EFILoader
		}
	}
	if has(loader) {
		return loader
	}
	return ScriptName
}

// bootModifiers are the boot options of an answer to req, from server.
func bootModifiers(req *dhcpv4.DHCPv4, server netip.Addr, has func(string) bool) []dhcpv4.Modifier {
	ip := net.IP(server.AsSlice())
	return []dhcpv4.Modifier{
		dhcpv4.WithServerIP(ip),
		dhcpv4.WithOption(dhcpv4.OptTFTPServerName(server.String())),
		dhcpv4.WithOption(dhcpv4.OptBootFileName(bootFile(req, has))),
	}
}

// BootOptions are the boot options the box's own DHCP server adds to its
// answer to req on vlan's segment: none unless the box serves PXE there
// with its own leases, req comes from boot firmware and a whole bundle
// is there to boot.
func (s *Server) BootOptions(vlan int, req *dhcpv4.DHCPv4) []dhcpv4.Modifier {
	spec := s.current()
	if !spec.Enabled() || spec.ProxyDHCP || spec.VLAN != vlan || !pxeClient(req) || !s.serving() {
		return nil
	}
	s.machines.bootFrom(req.ClientHWAddr.String(), netip.Addr{})
	s.advertiseTo(req.ClientHWAddr.String())
	mods := bootModifiers(req, spec.Server.Addr(), s.has)
	if ipxe(req) {
		// iPXE may hold its discovery open for ProxyDHCP offers after
		// an offer that says nothing of them: tell it there are none.
		mods = append(mods, dhcpv4.WithGeneric(ipxeEncap, noProxyDHCP))
	}
	return mods
}

// iPXE's encapsulated options (175): no-pxedhcp (176) set to 1.
var (
	ipxeEncap   = dhcpv4.GenericOptionCode(175)
	noProxyDHCP = []byte{176, 1, 1}
)

// proxyReply answers a PXE client as a proxyDHCP server (PXE 2.1): no
// address, the boot server and file, and the vendor class that marks
// the answer as a proxy's. A DISCOVER on port 67 gets an OFFER, a
// REQUEST on port 4011 an ACK; anything else nothing.
func proxyReply(req *dhcpv4.DHCPv4, server netip.Addr, has func(string) bool) *dhcpv4.DHCPv4 {
	if req.OpCode != dhcpv4.OpcodeBootRequest || len(req.ClientHWAddr) != 6 || !pxeClient(req) {
		return nil
	}
	var typ dhcpv4.MessageType
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		typ = dhcpv4.MessageTypeOffer
	case dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeInform:
		typ = dhcpv4.MessageTypeAck
	default:
		return nil
	}
	mods := append([]dhcpv4.Modifier{
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithYourIP(net.IPv4zero),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(server.AsSlice()))),
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient")),
		// PXE discovery control 8: boot the file named here, with no
		// boot server discovery or menu.
		dhcpv4.WithGeneric(dhcpv4.OptionVendorSpecificInformation, []byte{6, 1, 8, 255}),
	}, bootModifiers(req, server, has)...)
	r, err := dhcpv4.NewReplyFromRequest(req, mods...)
	if err != nil {
		return nil
	}
	return r
}
