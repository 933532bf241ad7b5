package containers

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/nucbox/nucbox/netcfg"
	"github.com/nucbox/nucbox/vswitch"
)

// Switch is what container networking needs of the box's switch: a port
// made or repaired without touching the others. *vswitch.Switch is one.
type Switch interface {
	EnsurePort(ctx context.Context, b vswitch.Bridge, p vswitch.Port) ([]string, error)
}

// Network puts container NICs on the box's bridge, through the box's one
// switch: it never opens a switch of its own.
type Network struct {
	// Switch is the box's switch (the network stage's); Host is the
	// namespace it works in.
	Switch Switch
	Host   *vswitch.Namespace
	Bridge vswitch.Bridge
	Logger *slog.Logger
	// LeaseTimeout bounds the wait for a first DHCP lease before the
	// container's process runs anyway (default 30 s); the client keeps
	// trying.
	LeaseTimeout time.Duration

	// portMu serialises the containers' port changes, which they make
	// from their own goroutines at each (re)start; the switch itself
	// also runs one change at a time against the apply's Reconcile.
	portMu sync.Mutex
}

// NICStatus is one container NIC as wired.
type NICStatus struct {
	Name    string        `json:"name"`
	Host    string        `json:"host"`
	MAC     string        `json:"mac"`
	Address string        `json:"address,omitempty"`
	DHCP    *netcfg.Lease `json:"dhcp,omitempty"`
}

// netState is what Wire set up for one run and Close takes down.
type netState struct {
	ns    *vswitch.Namespace
	dhcp  []*netcfg.LinkDHCP
	nics  []NICStatus
	names []string
}

// Close stops the DHCP clients (releasing leases) and the namespace
// handle; the veths die with the namespace.
func (s *netState) Close() {
	for _, d := range s.dhcp {
		_ = d.Close()
	}
	_ = s.ns.Close()
}

// port is a NIC's bridge port as this bridge can carry it.
func (n *Network) port(nic NIC) vswitch.Port {
	p := nic.Port
	if !n.Bridge.VLANFiltering {
		// A flat bridge (tests, boxes without VLANs) has no VLAN table.
		p.VLAN, p.Trunk, p.Native = 0, nil, 0
	}
	return p
}

// Wire creates each NIC's veth on the bridge, moves its container end
// into the namespace at nsPath as eth0, eth1..., and configures it:
// static address and gateway, or a DHCP client run from here. resolv.conf
// is written into netDir, which the container sees at /run/nucbox.
func (n *Network) Wire(ctx context.Context, ct Spec, nsPath, netDir string) (_ *netState, err error) {
	log := n.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ns, err := vswitch.OpenNamespace(nsPath)
	if err != nil {
		return nil, err
	}
	st := &netState{ns: ns}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	hh, err := n.Host.Netlink()
	if err != nil {
		return nil, err
	}
	defer hh.Close()
	ch, err := ns.Netlink()
	if err != nil {
		return nil, err
	}
	defer ch.Close()
	if lo, err := ch.LinkByName("lo"); err == nil {
		_ = ch.LinkSetUp(lo)
	}
	resolv := filepath.Join(netDir, "resolv.conf")
	for i, nic := range ct.NICs {
		p := n.port(nic)
		peer, err := n.ensureVeth(ctx, hh, p)
		if err != nil {
			return nil, fmt.Errorf("NIC %d: %w", i, err)
		}
		if err := hh.LinkSetNsFd(peer, int(ns.Handle())); err != nil {
			return nil, fmt.Errorf("NIC %d: move %s into the container: %w", i, p.Peer, err)
		}
		ifname := nic.Name
		l, err := ch.LinkByName(p.Peer)
		if err == nil {
			err = ch.LinkSetName(l, ifname)
		}
		if err == nil {
			err = ch.LinkSetHardwareAddr(l, p.MAC)
		}
		if err == nil {
			err = ch.LinkSetUp(l)
		}
		if err != nil {
			return nil, fmt.Errorf("NIC %d: %s: %w", i, ifname, err)
		}
		ns := NICStatus{Name: ifname, Host: p.Name, MAC: p.MAC.String()}
		switch {
		case nic.IPv4.DHCP:
			d, err := netcfg.StartLinkDHCP(st.ns, ifname, p.MAC, ct.Name, resolv, log.With("container", ct.Name, "nic", ifname))
			if err != nil {
				return nil, fmt.Errorf("NIC %d: %w", i, err)
			}
			st.dhcp = append(st.dhcp, d)
		case nic.IPv4.Address.IsValid():
			if err := staticIPv4(ch, l, nic.IPv4); err != nil {
				return nil, fmt.Errorf("NIC %d: %w", i, err)
			}
			ns.Address = nic.IPv4.Address.String()
		}
		if nic.IPv6.IsValid() {
			a := &netlink.Addr{IPNet: &net.IPNet{IP: nic.IPv6.Addr().AsSlice(), Mask: net.CIDRMask(nic.IPv6.Bits(), 128)}}
			if err := ch.AddrReplace(l, a); err != nil {
				return nil, fmt.Errorf("NIC %d: address %s: %w", i, nic.IPv6, err)
			}
		}
		st.nics = append(st.nics, ns)
	}
	if len(st.dhcp) == 0 {
		// Static NICs resolve as the box does.
		b, err := os.ReadFile("/etc/resolv.conf")
		if err != nil {
			b = nil
		}
		// Written at every start: no fsync, a power cut loses nothing.
		os.Remove(resolv) // a symlink is replaced, never followed
		if err := os.WriteFile(resolv, b, 0o644); err != nil {
			return nil, err
		}
	}
	timeout := n.LeaseTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	for i, d := range st.dhcp {
		wctx, cancel := context.WithTimeout(ctx, timeout)
		err := d.Wait(wctx)
		cancel()
		if err != nil {
			log.Warn("container starts without a DHCP lease", "container", ct.Name, "nic", i, "err", err)
		}
	}
	return st, nil
}

// ensureVeth creates the NIC's veth and returns its container end. The
// host end of the previous run's veth can outlive its container for a
// moment (the kernel tears namespaces down asynchronously); such a host
// end, whose peer is gone, is deleted and the pair made again.
func (n *Network) ensureVeth(ctx context.Context, hh *netlink.Handle, p vswitch.Port) (netlink.Link, error) {
	n.portMu.Lock()
	defer n.portMu.Unlock()
	for attempt := 0; ; attempt++ {
		if _, err := n.Switch.EnsurePort(ctx, n.Bridge, p); err != nil {
			return nil, err
		}
		peer, err := hh.LinkByName(p.Peer)
		if err == nil {
			return peer, nil
		}
		if attempt == 2 {
			return nil, fmt.Errorf("veth end %s: %w", p.Peer, err)
		}
		if stale, err := hh.LinkByName(p.Name); err == nil {
			if err := hh.LinkDel(stale); err != nil {
				return nil, fmt.Errorf("remove stale veth %s: %w", p.Name, err)
			}
		}
	}
}

// Status is the NICs with their current leases.
func (s *netState) Status() []NICStatus {
	out := append([]NICStatus(nil), s.nics...)
	j := 0
	for i := range out {
		if j < len(s.dhcp) && out[i].Address == "" {
			out[i].DHCP = s.dhcp[j].Lease()
			if out[i].DHCP != nil {
				out[i].Address = out[i].DHCP.Address.String()
			}
			j++
		}
	}
	return out
}

func staticIPv4(h *netlink.Handle, l netlink.Link, v IPv4) error {
	p := v.Address
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if err := h.AddrReplace(l, a); err != nil {
		return fmt.Errorf("address %s: %w", p, err)
	}
	if !v.Gateway.IsValid() {
		return nil
	}
	if err := h.RouteReplace(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: v.Gateway.AsSlice()}); err != nil {
		return fmt.Errorf("default route via %s: %w", v.Gateway, err)
	}
	return nil
}
