package containers

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/netcfg"
	"github.com/nucbox/nucbox/vswitch"
)

// Network puts container NICs on the box's bridge.
type Network struct {
	// Switch is the box's switch; Host is the namespace it works in.
	Switch *vswitch.Switch
	Host   *vswitch.Namespace
	Bridge vswitch.Bridge
	Logger *slog.Logger
	// LeaseTimeout bounds the wait for a first DHCP lease before the
	// container's process runs anyway (default 30 s); the client keeps
	// trying.
	LeaseTimeout time.Duration

	// portMu serialises port changes: the switch expects one caller at a
	// time, and containers (re)start from their own goroutines.
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

// Ports are the bridge ports of a container's NICs, as the box's switch
// config has them.
func (n *Network) Ports(box string, ct config.Container) ([]vswitch.Port, error) {
	c := &config.Config{Hostname: box, Uplink: config.Uplink{Bridge: n.Bridge.Name, NativeVLAN: n.Bridge.NativeVLAN},
		Containers: []config.Container{ct}}
	d, err := vswitch.FromConfig(c, "")
	if err != nil && n.Bridge.VLANFiltering {
		return nil, err
	}
	ports := d.Ports
	if !n.Bridge.VLANFiltering {
		// A flat bridge (tests, boxes without VLANs) has no VLAN table.
		for i := range ports {
			ports[i].VLAN, ports[i].Trunk, ports[i].Native = 0, nil, 0
		}
	}
	return ports, nil
}

// Wire creates each NIC's veth on the bridge, moves its container end
// into the namespace at nsPath as eth0, eth1..., and configures it:
// static address and gateway, or a DHCP client run from here. resolv.conf
// is written into netDir, which the container sees at /run/nucbox.
func (n *Network) Wire(ctx context.Context, box string, ct config.Container, nsPath, netDir string) (_ *netState, err error) {
	log := n.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ports, err := n.Ports(box, ct)
	if err != nil {
		return nil, err
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
	for i, p := range ports {
		peer, err := n.ensureVeth(ctx, hh, p)
		if err != nil {
			return nil, fmt.Errorf("NIC %d: %w", i, err)
		}
		if err := hh.LinkSetNsFd(peer, int(ns.Handle())); err != nil {
			return nil, fmt.Errorf("NIC %d: move %s into the container: %w", i, p.Peer, err)
		}
		ifname := config.ContainerIfName(i)
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
		nic := ct.NICs[i]
		ns := NICStatus{Name: ifname, Host: p.Name, MAC: p.MAC.String()}
		switch {
		case nic.IPv4.DHCP:
			d, err := netcfg.StartLinkDHCP(st.ns, ifname, p.MAC, ct.Name, resolv, log.With("container", ct.Name, "nic", ifname))
			if err != nil {
				return nil, fmt.Errorf("NIC %d: %w", i, err)
			}
			st.dhcp = append(st.dhcp, d)
		case nic.IPv4.Address != "":
			if err := staticIPv4(ch, l, nic.IPv4); err != nil {
				return nil, fmt.Errorf("NIC %d: %w", i, err)
			}
			ns.Address = nic.IPv4.Address
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

func staticIPv4(h *netlink.Handle, l netlink.Link, v config.IPv4) error {
	p, err := netip.ParsePrefix(v.Address)
	if err != nil {
		return err
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if err := h.AddrReplace(l, a); err != nil {
		return fmt.Errorf("address %s: %w", v.Address, err)
	}
	if v.Gateway == "" {
		return nil
	}
	gw := net.ParseIP(v.Gateway)
	if gw == nil {
		return fmt.Errorf("gateway %q is not an IP address", v.Gateway)
	}
	if err := h.RouteReplace(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: gw}); err != nil {
		return fmt.Errorf("default route via %s: %w", v.Gateway, err)
	}
	return nil
}
