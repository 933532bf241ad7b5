package dhcpd

import (
	"encoding/binary"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// handle answers one message on sc at now: the reply (nil for none) and
// whether the leases changed in a way a reboot must keep. The caller
// holds the server's lock.
func (t *table) handle(sc *Scope, req *dhcpv4.DHCPv4, now time.Time) (reply *dhcpv4.DHCPv4, changed bool) {
	if req.OpCode != dhcpv4.OpcodeBootRequest || len(req.ClientHWAddr) != 6 {
		return nil, false
	}
	// Relayed requests come from other networks than the scope's: the
	// box is no relay's server.
	if gi := req.GatewayIPAddr; gi != nil && !gi.IsUnspecified() {
		return nil, false
	}
	mac := req.ClientHWAddr.String()
	server := sc.Server.Addr()
	if sid := addrOf(req.ServerIdentifier()); sid.IsValid() && sid != server {
		// The client took another server's offer: let ours go.
		if l := t.leases[key{sc.VLAN, mac}]; l != nil && l.offered {
			delete(t.leases, key{sc.VLAN, mac})
		}
		return nil, false
	}
	requested := addrOf(req.RequestedIPAddress())
	ciaddr := addrOf(req.ClientIPAddr)
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		addr, ok := t.choose(sc, mac, requested, now)
		if !ok {
			return nil, false
		}
		t.set(sc, mac, addr, now.Add(offerHold), true)
		return sc.reply(req, dhcpv4.MessageTypeOffer, addr), false
	case dhcpv4.MessageTypeRequest:
		want := requested
		if !want.IsValid() {
			want = ciaddr
		}
		if !want.IsValid() {
			return nil, false
		}
		if !t.allowed(sc, mac, want, now) {
			return sc.reply(req, dhcpv4.MessageTypeNak, netip.Addr{}), false
		}
		l := t.set(sc, mac, want, now.Add(sc.Lease), false)
		if h := cleanHostname(req.HostName()); h != "" {
			l.Hostname = h
		}
		return sc.reply(req, dhcpv4.MessageTypeAck, want), true
	case dhcpv4.MessageTypeRelease:
		if l := t.leases[key{sc.VLAN, mac}]; l != nil && l.Address == ciaddr && l.Active(now) {
			l.Expires = now
			return nil, true
		}
	case dhcpv4.MessageTypeDecline:
		if sc.InRange(requested) {
			t.declined[vaddr{sc.VLAN, requested}] = now.Add(sc.Lease)
			if l := t.leases[key{sc.VLAN, mac}]; l != nil && l.Address == requested {
				delete(t.leases, key{sc.VLAN, mac})
			}
			return nil, true
		}
	case dhcpv4.MessageTypeInform:
		return sc.reply(req, dhcpv4.MessageTypeAck, netip.Addr{}), false
	}
	return nil, false
}

// allowed reports whether mac may have addr on sc: its fixed address,
// or a free address of the range.
func (t *table) allowed(sc *Scope, mac string, addr netip.Addr, now time.Time) bool {
	if h := sc.host(mac); h != nil && h.Address.IsValid() {
		return addr == h.Address
	}
	return sc.InRange(addr) && t.free(sc, addr, mac, now)
}

// reply builds an answer to req; addr is the client's address (invalid
// for a NAK, and for the ACK of an INFORM, which gets no lease).
func (sc *Scope) reply(req *dhcpv4.DHCPv4, typ dhcpv4.MessageType, addr netip.Addr) *dhcpv4.DHCPv4 {
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(sc.Server.Addr().AsSlice()))),
	}
	if typ != dhcpv4.MessageTypeNak {
		mods = append(mods, dhcpv4.WithNetmask(net.CIDRMask(sc.Server.Bits(), 32)))
		if addr.IsValid() {
			mods = append(mods, dhcpv4.WithYourIP(net.IP(addr.AsSlice())),
				dhcpv4.WithLeaseTime(uint32(sc.Lease/time.Second)))
		}
		if sc.Router.IsValid() {
			mods = append(mods, dhcpv4.WithOption(dhcpv4.OptRouter(net.IP(sc.Router.AsSlice()))))
		}
		if len(sc.DNS) > 0 {
			ips := make([]net.IP, len(sc.DNS))
			for i, a := range sc.DNS {
				ips[i] = net.IP(a.AsSlice())
			}
			mods = append(mods, dhcpv4.WithOption(dhcpv4.OptDNS(ips...)))
		}
		if len(sc.NTP) > 0 {
			ips := make([]net.IP, len(sc.NTP))
			for i, a := range sc.NTP {
				ips[i] = net.IP(a.AsSlice())
			}
			mods = append(mods, dhcpv4.WithOption(dhcpv4.OptNTPServers(ips...)))
		}
		if sc.Domain != "" {
			mods = append(mods, dhcpv4.WithOption(dhcpv4.OptDomainName(sc.Domain)))
		}
		if sc.MTU > 0 {
			mods = append(mods, dhcpv4.WithGeneric(dhcpv4.OptionInterfaceMTU, binary.BigEndian.AppendUint16(nil, uint16(sc.MTU))))
		}
	}
	r, err := dhcpv4.NewReplyFromRequest(req, mods...)
	if err != nil {
		return nil
	}
	return r
}

// addrOf is an IPv4 address of the library's, invalid when absent or
// unspecified.
func addrOf(ip net.IP) netip.Addr {
	ip4 := ip.To4()
	if ip4 == nil {
		return netip.Addr{}
	}
	a := netip.AddrFrom4([4]byte(ip4))
	if a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}
