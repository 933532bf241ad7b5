package vswitch

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrNoVLANFiltering means the kernel's bridge cannot filter VLANs
// (CONFIG_BRIDGE_VLAN_FILTERING is off). Reconcile reports it instead of
// running a bridge that would forward every VLAN everywhere.
var ErrNoVLANFiltering = errors.New("the kernel's bridge has no VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)")

// ErrNo8021Q means the kernel cannot create 802.1Q VLAN interfaces (module
// 8021q missing).
var ErrNo8021Q = errors.New("the kernel has no 802.1Q VLAN interfaces (module 8021q)")

// mut runs one mutating netlink call and counts it.
func (s *Switch) mut(f func() error) error {
	s.changes.Add(1)
	return f()
}

func (s *Switch) exec(a action) error {
	if a.Op == opCreateBridge {
		return s.createBridge(a.Bridge)
	}
	if a.Op == opCreateTAP {
		return s.createTAP(a.Port)
	}
	if a.Op == opCreateVeth {
		return s.createVeth(a.Port)
	}
	if a.Op == opCreateTunnel {
		return s.createTunnel(a.Port)
	}
	if a.Op == opFDBAdd || a.Op == opFDBDel {
		return s.fdb(a.Link, a.Addr.Addr(), a.Op == opFDBAdd)
	}
	if a.Op == opCreateVLAN {
		return s.createVLANLink(a.Link, a.Master, a.VLAN.ID)
	}
	l, err := s.h.LinkByName(a.Link)
	if err != nil {
		return err
	}
	h := s.h
	switch a.Op {
	case opDelete:
		return s.mut(func() error { return h.LinkDel(l) })
	case opFiltering:
		err := s.mut(func() error { return h.BridgeSetVlanFiltering(l, a.On) })
		if a.On && errors.Is(err, syscall.EOPNOTSUPP) {
			return ErrNoVLANFiltering
		}
		return err
	case opDefaultPVID:
		return s.mut(func() error { return h.BridgeSetVlanDefaultPVID(l, 0) })
	case opSetMAC:
		return s.mut(func() error { return h.LinkSetHardwareAddr(l, a.MAC) })
	case opSetMTU:
		return s.mut(func() error { return h.LinkSetMTU(l, a.Port.MTU) })
	case opSetAlias:
		return s.mut(func() error { return h.LinkSetAlias(l, a.Alias) })
	case opDown:
		return s.mut(func() error { return h.LinkSetDown(l) })
	case opUp:
		return s.mut(func() error { return h.LinkSetUp(l) })
	case opMaster:
		m, err := h.LinkByName(a.Master)
		if err != nil {
			return err
		}
		return s.mut(func() error { return h.LinkSetMaster(l, m) })
	case opVLANAdd:
		err := s.mut(func() error {
			return h.BridgeVlanAdd(l, uint16(a.VLAN.ID), a.VLAN.PVID, a.VLAN.Untagged, a.Self, !a.Self)
		})
		if errors.Is(err, syscall.EOPNOTSUPP) {
			return ErrNoVLANFiltering
		}
		return err
	case opVLANDel:
		return s.mut(func() error {
			return h.BridgeVlanDel(l, uint16(a.VLAN.ID), a.VLAN.PVID, a.VLAN.Untagged, a.Self, !a.Self)
		})
	case opAddrAdd:
		return s.mut(func() error { return h.AddrAdd(l, boxAddr(a.Addr)) })
	case opAddrDel:
		return s.mut(func() error { return h.AddrDel(l, &netlink.Addr{IPNet: ipNet(a.Addr)}) })
	}
	return fmt.Errorf("unknown step %q", a.Op)
}

func (s *Switch) createBridge(b Bridge) error {
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: b.Name, HardwareAddr: b.MAC, Alias: aliasBridge}}
	// Kernels without filtering refuse the attribute even when it says
	// off, so it is only sent to turn filtering on.
	if b.VLANFiltering {
		var none uint16
		br.VlanFiltering, br.VlanDefaultPVID = &b.VLANFiltering, &none
	}
	err := s.mut(func() error { return s.h.LinkAdd(br) })
	if b.VLANFiltering && errors.Is(err, syscall.EOPNOTSUPP) {
		return ErrNoVLANFiltering
	}
	if err != nil {
		return err
	}
	return s.ensureAlias(b.Name, aliasBridge)
}

// ensureAlias sets an alias the create request could not carry (TUN
// devices are made by ioctl, and not every kernel takes IFLA_IFALIAS on
// creation).
func (s *Switch) ensureAlias(name, alias string) error {
	l, err := s.h.LinkByName(name)
	if err != nil {
		return err
	}
	if l.Attrs().Alias == alias {
		return nil
	}
	return s.mut(func() error { return s.h.LinkSetAlias(l, alias) })
}

// createTAP makes a persistent TAP owned by nucbox. TUN devices are made
// through /dev/net/tun, which creates them in the namespace of the calling
// thread, hence Do.
func (s *Switch) createTAP(p Port) error {
	tap := &netlink.Tuntap{
		LinkAttrs: netlink.LinkAttrs{Name: p.Name},
		Mode:      netlink.TUNTAP_MODE_TAP,
		// QEMU opens TAPs with IFF_NO_PI and, for virtio-net, IFF_VNET_HDR.
		Flags: netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR,
		Owner: p.Owner,
		Group: p.Group,
	}
	if err := s.ns.Do(func() error { return s.mut(func() error { return s.h.LinkAdd(tap) }) }); err != nil {
		return err
	}
	if mac := p.HostMAC(); mac != nil {
		l, err := s.h.LinkByName(p.Name)
		if err != nil {
			return err
		}
		if err := s.mut(func() error { return s.h.LinkSetHardwareAddr(l, mac) }); err != nil {
			return err
		}
	}
	if p.MTU != 0 {
		l, err := s.h.LinkByName(p.Name)
		if err != nil {
			return err
		}
		if err := s.mut(func() error { return s.h.LinkSetMTU(l, p.MTU) }); err != nil {
			return err
		}
	}
	return s.ensureAlias(p.Name, portAlias(p))
}

func (s *Switch) createVeth(p Port) error {
	v := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: p.Name, HardwareAddr: p.HostMAC(), Alias: portAlias(p), MTU: p.MTU},
		PeerName:         p.Peer,
		PeerHardwareAddr: p.MAC,
		PeerMTU:          uint32(p.MTU),
	}
	if err := s.mut(func() error { return s.h.LinkAdd(v) }); err != nil {
		return err
	}
	if err := s.ensureAlias(p.Name, portAlias(p)); err != nil {
		return err
	}
	return s.ensureAlias(p.Peer, aliasPeer+p.Label)
}

func (s *Switch) createVLANLink(name, parent string, vid int) error {
	pl, err := s.h.LinkByName(parent)
	if err != nil {
		return err
	}
	alias := fmt.Sprintf("%s%d", aliasVLAN, vid)
	v := &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: pl.Attrs().Index, Alias: alias}, VlanId: vid}
	err = s.mut(func() error { return s.h.LinkAdd(v) })
	if errors.Is(err, syscall.EOPNOTSUPP) {
		return ErrNo8021Q
	}
	if err != nil {
		return err
	}
	return s.ensureAlias(name, alias)
}

// boxAddr is a box address as added to its VLAN interface. An IPv6 one
// skips duplicate address detection: the address is the config's, and
// while DAD runs (a second or more) the box could neither bind its DNS
// server to it nor answer pings on it.
func boxAddr(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{IPNet: ipNet(p)}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}
