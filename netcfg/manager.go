package netcfg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nucbox/nucbox/vswitch"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrRolledBack is wrapped by Apply's error when the probe failed after a
// change and the previous state was restored: the box is as reachable as
// before, but the new config is not in effect.
var ErrRolledBack = errors.New("rolled back")

// Switch is what netcfg needs of the box's switch to let the bridge take
// the uplink over. *vswitch.Switch is one; the network stage passes the
// one it owns, so that the bridge has a single writer.
type Switch interface {
	EnsureBridge(ctx context.Context, b vswitch.Bridge) ([]string, error)
	Attach(ctx context.Context, b vswitch.Bridge, p vswitch.Port) ([]string, error)
	Detach(name string) error
	BringUp(name string) error
	// EnsureBond makes the uplink bond of its members.
	EnsureBond(ctx context.Context, b vswitch.Bond) ([]string, error)
	// Changes counts the switch's mutating netlink calls so far.
	Changes() int64
}

// Options are the Manager's environment, fixed for its life.
type Options struct {
	// Namespace holds the links; nil means the caller's namespace.
	Namespace *vswitch.Namespace
	// Switch works on the bridge in Namespace. Without one the Manager
	// cannot take the uplink over: a Spec naming a bridge fails.
	Switch Switch
	Logger *slog.Logger
	// ResolvConf is the file DNS servers go to (default /etc/resolv.conf).
	ResolvConf string
	// PhysicalKinds are the netlink link types automatic selection takes
	// for NICs (default: "device", what NIC drivers register). Labs built
	// from veths add "veth".
	PhysicalKinds []string
	// Settle is how long automatic selection waits for an earlier NIC's
	// carrier once a later one has it (default 2 s).
	Settle time.Duration
	// LeaseTimeout bounds Apply's wait for the first DHCP lease (default
	// 60 s); the client keeps trying after it.
	LeaseTimeout time.Duration
}

// Manager owns the box's layer-3 networking in one namespace. Apply may be
// called again with a changed Spec; the DHCP client runs between calls.
type Manager struct {
	ns       *vswitch.Namespace
	ownNS    bool
	h        *netlink.Handle
	sw       Switch
	log      *slog.Logger
	resolv   string
	physical []string
	settle   time.Duration
	leaseMax time.Duration

	mu          sync.Mutex // serialises Apply and Close
	closed      bool
	uplinkIndex int
	// stMu guards status and dhcp for Status, which must not wait for an
	// Apply that waits for a lease. Both change only under mu as well.
	stMu   sync.Mutex
	dhcp   *dhcpClient
	status Status

	// v6mu guards v6, the managed IPv6 address, which the DHCPv6
	// client changes between Applies; dhcp6 changes under mu and stMu.
	v6mu  sync.Mutex
	v6    v6Addr
	dhcp6 *dhcp6Client

	dnsMu     sync.Mutex // guards the DNS fields and resolv.conf
	dnsSpec   []netip.Addr
	dnsLease  []netip.Addr
	dnsDomain string
}

// New prepares a Manager; it changes nothing until Apply.
func New(o Options) (*Manager, error) {
	m := &Manager{ns: o.Namespace, sw: o.Switch, log: o.Logger, resolv: o.ResolvConf, physical: o.PhysicalKinds,
		settle: o.Settle, leaseMax: o.LeaseTimeout}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.resolv == "" {
		m.resolv = "/etc/resolv.conf"
	}
	if m.physical == nil {
		m.physical = []string{"device"}
	}
	if m.settle == 0 {
		m.settle = 2 * time.Second
	}
	if m.leaseMax == 0 {
		m.leaseMax = 60 * time.Second
	}
	if m.ns == nil {
		ns, err := vswitch.OpenNamespace("")
		if err != nil {
			return nil, err
		}
		m.ns, m.ownNS = ns, true
	}
	var err error
	if m.h, err = m.ns.Netlink(); err != nil {
		m.closeNS()
		return nil, err
	}
	return m, nil
}

func (m *Manager) setDHCP(c *dhcpClient) {
	m.stMu.Lock()
	m.dhcp = c
	m.stMu.Unlock()
}

func (m *Manager) closeNS() {
	if m.ownNS {
		m.ns.Close()
	}
}

// Close stops the DHCP client, releasing its lease and removing its
// address (the box is shutting down), and frees the Manager's sockets.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	if m.dhcp != nil {
		m.dhcp.stop(true)
		m.setDHCP(nil)
	}
	if m.dhcp6 != nil {
		m.dhcp6.stop(true)
		m.setDHCP6(nil)
	}
	m.h.Close()
	m.closeNS()
	return nil
}

// Status is the state after the last Apply, with the DHCP lease as it is
// now.
func (m *Manager) Status() Status {
	m.stMu.Lock()
	defer m.stMu.Unlock()
	st := m.status.clone()
	if m.dhcp != nil {
		st.Lease = m.dhcp.status()
	}
	if m.dhcp6 != nil {
		st.Lease6 = m.dhcp6.status()
	}
	return st
}

// Apply brings the box's network to spec: selects the uplink, configures
// its address (static or DHCP), lets the bridge take it over, probes, and
// rolls back when the probe fails. Applying the same spec again makes no
// change (Status.Changes is 0).
func (m *Manager) Apply(ctx context.Context, spec Spec) (Status, error) {
	if err := spec.Validate(); err != nil {
		return m.Status(), err
	}
	if spec.Bridge.Name != "" && m.sw == nil {
		return m.Status(), fmt.Errorf("netcfg: bridge %s but no switch to take the uplink over", spec.Bridge.Name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return m.status.clone(), errors.New("netcfg: Apply after Close")
	}
	var n atomic.Int64
	k := kernel{h: m.h, n: &n}
	swChanges := func() int64 { return 0 }
	if m.sw != nil {
		swChanges = m.sw.Changes
	}
	swStart := swChanges()
	st := Status{Takeover: m.status.Takeover, Probe: m.status.Probe, Probe6: m.status.Probe6}
	err := m.apply(ctx, k, spec, &st)
	st.Changes = int(n.Load() + swChanges() - swStart)
	if ferr := m.fill(k, &st); err == nil {
		err = ferr
	}
	m.stMu.Lock()
	m.status = st
	m.stMu.Unlock()
	out := st.clone()
	if m.dhcp != nil {
		out.Lease = m.dhcp.status()
	}
	if m.dhcp6 != nil {
		out.Lease6 = m.dhcp6.status()
	}
	return out, err
}

func (m *Manager) apply(ctx context.Context, k kernel, spec Spec, st *Status) error {
	if b := spec.Uplink.Bond; b != nil {
		if m.sw == nil {
			return fmt.Errorf("netcfg: bond %s but no switch to make it", b.Name)
		}
		done, err := m.sw.EnsureBond(ctx, *b)
		if err != nil {
			return err
		}
		if len(done) > 0 {
			m.log.Info("uplink bond "+b.Name, "mode", b.Mode, "members", strings.Join(b.Members, ","), "done", strings.Join(done, "; "))
		}
	}
	up, err := m.selectUplink(ctx, k, spec.Uplink, spec.Bridge.Name, spec.Uplink.CarrierTimeout)
	if err != nil {
		return err
	}
	if m.uplinkIndex != 0 && m.uplinkIndex != up.Index && m.dhcp != nil {
		m.dhcp.stop(false)
		m.setDHCP(nil)
	}
	m.uplinkIndex = up.Index
	st.Uplink, st.UplinkMAC = up.Name, up.MAC
	m.dnsMu.Lock()
	m.dnsSpec = spec.DNS
	m.dnsMu.Unlock()

	before, err := k.capture(up.Name, spec.Bridge.Name)
	if err != nil {
		return err
	}
	holder := up.Name
	if before.enslaved {
		holder = spec.Bridge.Name
		st.Bridge = holder
	}
	st.Link = holder

	prev6 := m.current6()
	changed, undo, err := m.applyL3(ctx, k, spec, up, holder, st)
	if err != nil {
		return err
	}
	changed6, err := m.applyIPv6(k, spec, holder)
	if err != nil {
		return err
	}
	// A change to a box that was reachable is probed like the takeover;
	// the first address of a fresh box has nothing to fall back to. A
	// failed probe of either family undoes both.
	undo6 := func() {
		if changed6 {
			if err := m.putV6(k, prev6); err != nil {
				m.log.Warn("IPv6 address not restored", "err", err)
			}
		}
	}
	if changed && before.holder() != "" && !spec.Probe.Disabled {
		if target := m.probeTarget(spec); target.IsValid() {
			st.Probe = m.probe(ctx, holder, target, spec.Probe.Timeout)
			if !st.Probe.OK {
				undo6()
				return m.rollback(ctx, k, spec, st, before, undo, "", st.Probe.Error)
			}
		}
	}
	if changed6 && before.holder() != "" && !m.probe6After(ctx, spec, holder, st) {
		undo6()
		return m.rollback(ctx, k, spec, st, before, undo, "", st.Probe6.Error)
	}
	if spec.Bridge.Name == "" {
		return m.writeDNS()
	}
	if !before.enslaved {
		if err := m.takeover(ctx, k, spec, up, st); err != nil {
			return err
		}
	} else {
		// Already taken over: only repair the bridge and the uplink port.
		if err := m.ensureBridge(ctx, spec, up); err != nil {
			return err
		}
	}
	return m.writeDNS()
}

func (m *Manager) ensureBridge(ctx context.Context, spec Spec, up uplink) error {
	br := spec.Bridge
	br.MAC = up.MAC
	if _, err := m.sw.EnsureBridge(ctx, br); err != nil {
		return err
	}
	_, err := m.sw.Attach(ctx, br, m.uplinkPort(spec, up))
	return err
}

func (m *Manager) uplinkPort(spec Spec, up uplink) vswitch.Port {
	return spec.UplinkPort.Named(up.Name)
}

// applyL3 configures the address on link. It reports whether anything
// changed, and how to undo the DHCP side of it if the probe fails.
func (m *Manager) applyL3(ctx context.Context, k kernel, spec Spec, up uplink, link string, st *Status) (bool, func(), error) {
	undo := func() {}
	if !spec.IPv4.DHCP {
		if old := m.dhcp; old != nil {
			// Paused, not released: a rollback resumes it with its lease.
			old.stop(false)
			m.setDHCP(nil)
			m.leaseChanged(nil)
			undo = func() {
				if err := old.start(old.link); err == nil {
					m.setDHCP(old)
					m.leaseChanged(old.status())
				}
			}
		}
		start := k.n.Load()
		l, err := k.link(link)
		if err != nil {
			return false, undo, err
		}
		if err := k.ensureOnly(l, netlink.Addr{IPNet: ipNet(spec.IPv4.Address)}); err != nil {
			return true, undo, err
		}
		if err := k.ensureDefault(l, spec.IPv4.Gateway, unix.RTPROT_STATIC); err != nil {
			return true, undo, err
		}
		return k.n.Load() != start, undo, nil
	}
	changed := false
	c := m.dhcp
	if c == nil {
		c = newDHCPClient(m, spec.Hostname, up.MAC)
		if err := c.start(link); err != nil {
			return false, undo, err
		}
		m.setDHCP(c)
		changed = true
		undo = func() {
			c.stop(false)
			m.setDHCP(nil)
		}
	} else {
		c.mu.Lock()
		c.hostname = spec.Hostname
		running := c.link
		c.mu.Unlock()
		if running != link {
			// The address lives elsewhere now (the uplink was taken off
			// the bridge behind nucbox's back): follow it with the lease.
			c.stop(false)
			if err := c.start(link); err != nil {
				return false, undo, err
			}
			changed = true
		}
	}
	wctx, cancel := context.WithTimeout(ctx, m.leaseMax)
	defer cancel()
	t := time.Now()
	err := c.wait(wctx)
	st.LeaseWait = time.Since(t)
	return changed, undo, err
}

func (m *Manager) probeTarget(spec Spec) netip.Addr {
	if spec.Probe.Target.IsValid() {
		return spec.Probe.Target
	}
	if !spec.IPv4.DHCP {
		return spec.IPv4.Gateway
	}
	if m.dhcp != nil {
		if l := m.dhcp.status(); l != nil {
			return l.Router
		}
	}
	return netip.Addr{}
}

// rollback restores state and reports why. detach names an uplink to take
// off the bridge first.
func (m *Manager) rollback(ctx context.Context, k kernel, spec Spec, st *Status, state l3State, undo func(), detach, reason string) error {
	m.log.Warn("connectivity lost, restoring the previous network state", "reason", reason)
	rb := &Rollback{At: time.Now(), Reason: reason, Restored: state.holder()}
	st.Rollback = rb
	c := m.dhcp
	if c != nil {
		c.stop(false)
	}
	var errs []error
	if detach != "" {
		errs = append(errs, m.sw.Detach(detach))
		st.Bridge = ""
	}
	errs = append(errs, k.reach(state))
	if rb.Restored != "" {
		errs = append(errs, m.moveV6(k, rb.Restored))
	}
	undo()
	if c != nil && m.dhcp == c {
		if err := c.start(rb.Restored); err != nil {
			errs = append(errs, err)
		}
	}
	st.Link = rb.Restored
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w, but restoring failed: %v (reason: %s)", ErrRolledBack, err, reason)
	}
	// The restored state is checked against its own gateway: the new
	// spec's target may be what failed.
	target := state.gateway()
	if !target.IsValid() {
		target = m.probeTarget(spec)
	}
	if target.IsValid() && rb.Restored != "" {
		p := m.probe(ctx, rb.Restored, target, spec.Probe.Timeout)
		rb.Reachable = p.OK
	}
	return fmt.Errorf("%w: %s", ErrRolledBack, reason)
}

// fill records the addresses, gateway and DNS the kernel has now.
func (m *Manager) fill(k kernel, st *Status) error {
	if st.Link == "" {
		return nil
	}
	l, err := k.link(st.Link)
	if err != nil {
		return err
	}
	addrs, err := k.addrs(l)
	if err != nil {
		return err
	}
	st.Addresses = nil
	for _, a := range addrs {
		st.Addresses = append(st.Addresses, prefixOf(a.IPNet))
	}
	rs, err := k.routes(l)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if isDefault(r) && r.Gw != nil {
			st.Gateway = addrOf(r.Gw)
		}
	}
	st.DNS, _ = m.dnsServers()
	return m.fill6(k, st.Link, st)
}

func (m *Manager) dnsServers() ([]netip.Addr, string) {
	m.dnsMu.Lock()
	defer m.dnsMu.Unlock()
	var servers []netip.Addr
	for _, a := range append(slices.Clone(m.dnsLease), m.dnsSpec...) {
		if !slices.Contains(servers, a) {
			servers = append(servers, a)
		}
	}
	return servers, m.dnsDomain
}

// leaseChanged is the DHCP client's hook (nil: no lease). It must not take
// m.mu, which Apply holds while it waits for the first lease.
func (m *Manager) leaseChanged(l *Lease) {
	m.dnsMu.Lock()
	m.dnsLease, m.dnsDomain = nil, ""
	if l != nil {
		m.dnsLease, m.dnsDomain = slices.Clone(l.DNS), l.Domain
	}
	m.dnsMu.Unlock()
	if err := m.writeDNS(); err != nil {
		m.log.Warn("resolv.conf not written", "err", err)
	}
}

func (m *Manager) writeDNS() error {
	servers, domain := m.dnsServers()
	if len(servers) == 0 && domain == "" {
		return nil
	}
	m.dnsMu.Lock()
	defer m.dnsMu.Unlock()
	_, err := writeFileIfChanged(m.resolv, resolvConf(servers, domain))
	return err
}
