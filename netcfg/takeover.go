package netcfg

import (
	"context"
	"fmt"
	"net"
	"time"
)

// takeover moves the box's address from the uplink onto the bridge:
//
//  1. the bridge exists with the uplink's MAC (so the upstream switch,
//     ARP caches and DHCP reservations see no change) and is down;
//  2. the uplink's operational state is up: a port that joins while the
//     kernel still reports it down stays disabled in the bridge;
//  3. the uplink is enslaved, and the bridge brought up, which enables the
//     port and gives the bridge carrier and a working queue at once;
//  4. addresses and routes move (add on the bridge, replace routes,
//     remove from the uplink);
//  5. the DHCP client carries on on the bridge with the same lease;
//  6. the probe runs with sub-second retries, of the IPv4 gateway and of
//     the IPv6 router (the static one, or the one the uplink learnt from
//     adverts); on failure everything is put back as it was before step 3.
//
// The outage runs from step 3 to the probe's first answer.
func (m *Manager) takeover(ctx context.Context, k kernel, spec Spec, up uplink, st *Status) error {
	br := spec.Bridge
	br.MAC = up.MAC
	if _, err := m.sw.EnsureBridge(ctx, br); err != nil {
		return fmt.Errorf("bridge %s: %w", br.Name, err)
	}
	bl, err := k.link(br.Name)
	if err != nil {
		return err
	}
	// A bridge that is up without carrier keeps a disabled queue until the
	// kernel's deferred link-state work runs: reopen it with the uplink in.
	if bl.Attrs().Flags&net.FlagUp != 0 && !carrier(bl) {
		if err := k.mut(func() error { return m.h.LinkSetDown(bl) }); err != nil {
			return err
		}
	}
	if err := m.waitOperUp(ctx, up.Name, spec.Uplink.CarrierTimeout); err != nil {
		return err
	}
	before, err := k.capture(up.Name, br.Name)
	if err != nil {
		return err
	}
	target := before.moved(bl.Attrs().Index)
	// The router the uplink learnt from adverts is read before the move:
	// the bridge learns it only with the next advert.
	target6 := probe6Target(spec)
	if !target6.IsValid() && !spec.Probe.Disabled {
		target6 = k.raRouter6(up.Name, spec.IPv6.Mode)
	}
	c := m.dhcp
	if c != nil {
		c.stop(false)
	}

	t0 := time.Now()
	_, err = m.sw.Attach(ctx, br, m.uplinkPort(spec, up))
	if err == nil {
		err = m.sw.BringUp(br.Name)
	}
	if err == nil {
		err = k.reach(target)
	}
	moved := time.Since(t0)
	tk := &Takeover{Start: t0, Moved: moved, Addresses: target.prefixes(br.Name), Routes: len(target.routes[br.Name])}
	st.Takeover, st.Bridge, st.Link = tk, br.Name, br.Name
	if c != nil {
		if serr := c.start(br.Name); err == nil {
			err = serr
		}
	}
	if merr := m.moveV6(k, br.Name); err == nil {
		err = merr
	}
	if err != nil {
		return m.rollback(ctx, k, spec, st, before, func() {}, up.Name, fmt.Sprintf("moving onto %s failed: %v", br.Name, err))
	}
	m.log.Info("address moved onto the bridge", "bridge", br.Name, "uplink", up.Name,
		"addresses", tk.Addresses, "routes", tk.Routes, "moved", moved)
	if spec.Probe.Disabled {
		return nil
	}
	target4 := m.probeTarget(spec)
	if target4.IsValid() {
		probeStart := time.Now()
		st.Probe = m.probe(ctx, br.Name, target4, spec.Probe.Timeout)
		if !st.Probe.OK {
			return m.rollback(ctx, k, spec, st, before, func() {}, up.Name, st.Probe.Error)
		}
		tk.Outage = probeStart.Sub(t0) + st.Probe.Elapsed
		m.log.Info("bridge takeover verified", "bridge", br.Name, "outage", tk.Outage,
			"probe", st.Probe.Method, "target", target4, "attempts", st.Probe.Attempts)
	}
	// The IPv6 router answers through the bridge too, or the move is
	// undone as for IPv4.
	if target6.IsValid() {
		st.Probe6 = m.probe6(ctx, br.Name, target6, spec.Probe.Timeout)
		if !st.Probe6.OK {
			return m.rollback(ctx, k, spec, st, before, func() {}, up.Name, st.Probe6.Error)
		}
		m.log.Info("IPv6 router answers through the bridge", "bridge", br.Name, "router", target6,
			"attempts", st.Probe6.Attempts, "elapsed", st.Probe6.Elapsed)
	}
	if !target4.IsValid() && !target6.IsValid() {
		m.log.Warn("no probe target (no gateway): takeover not verified")
	}
	return nil
}
