package box

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/containers"
	"github.com/nucbox/nucbox/internal/safe"
	"github.com/nucbox/nucbox/netcfg"
	"github.com/nucbox/nucbox/vswitch"
	"github.com/nucbox/nucbox/vswitch/policy"
)

// networkStage is the box's network: netcfg selects the uplink, gets its
// address (static or DHCP), lets the bridge take it over and probes the
// gateway; then vswitch reconciles the bridge's ports, VLANs and the box's
// VLAN interfaces, and the NAT rules are applied. It takes all of it from
// the compiled config (d.Network, d.Switch, d.Firewall) and owns the box's one
// vswitch.Switch: netcfg's takeover and the containers' ports go through
// it, so the bridge has a single writer.
//
// What is fatal and what is not: a box without an uplink or without an
// address is unreachable, so no uplink or no lease within the timeout
// fails the stage (failed line, rescue shell on the console). A takeover
// the probe rejected is rolled back by netcfg to an address on the bare
// uplink, which is reachable; the box then carries on without the uplink
// on the bridge (workloads on the bridge are cut off from the lab
// network), reports the rollback in its ready summary and logs why.
type networkStage struct {
	log    logger
	uptime func() time.Duration

	mu  sync.Mutex
	mgr *netcfg.Manager
	ns  *vswitch.Namespace
	sw  *vswitch.Switch
	sum *NetworkSummary
	// vsw, desired (the switch last reconciled) and bond (the uplink
	// bond) are what the status reads back, under vmu.
	vmu     sync.Mutex
	vsw     *vswitch.Switch
	desired *vswitch.Desired
	bond    *vswitch.Bond
	// bondWatch names the bond whose watcher runs; stopWatch ends it.
	bondWatch string
	stopWatch context.CancelFunc
	// policy is the port policies last applied, applied again when a
	// container's veth is made anew (its qdiscs go with the old one).
	policy policy.Spec
	// disabled are the err-disabled ports by link (errdisable.go),
	// under dmu: the status reads them while an apply holds mu.
	dmu      sync.Mutex
	disabled map[string]errDisabled
	// applying quiets netcfg's own progress lines while Apply runs, since
	// the stage sums them up in plain words; between applies they are the
	// only news of DHCP renewals and so are shown.
	applying atomic.Bool
}

// NetworkSummary is the network part of the ready summary.
type NetworkSummary struct {
	Uplink    string   `json:"uplink"`
	UplinkMAC string   `json:"uplink_mac"`
	Bridge    string   `json:"bridge,omitempty"`
	Link      string   `json:"link"` // holds the box's address
	Addresses []string `json:"addresses"`
	Gateway   string   `json:"gateway,omitempty"`
	// IPv6 are the box's global IPv6 addresses on Link, Gateway6 its
	// IPv6 router there, IPv6Mode how it takes them (uplink.ipv6).
	IPv6     []string `json:"ipv6,omitempty"`
	Gateway6 string   `json:"gateway6,omitempty"`
	IPv6Mode string   `json:"ipv6_mode,omitempty"`
	DNS      []string `json:"dns,omitempty"`
	DHCP     bool     `json:"dhcp"`
	// LeaseServer is the DHCP server that gave the lease.
	LeaseServer string `json:"lease_server,omitempty"`
	// MovedMS is how long moving the address onto the bridge took,
	// OutageMS the time from enslaving the uplink to the probe's first
	// answer through the bridge.
	MovedMS  float64       `json:"moved_ms"`
	OutageMS float64       `json:"outage_ms"`
	Probe    *ProbeSummary `json:"probe,omitempty"`
	// Probe6 is the neighbour probe of the IPv6 router: the static one, or
	// the one the uplink learnt from adverts before the takeover.
	Probe6   *ProbeSummary `json:"probe6,omitempty"`
	Rollback *RollbackInfo `json:"rollback,omitempty"`
	// Filtering is the bridge's VLAN filtering as the kernel has it.
	Filtering bool `json:"vlan_filtering"`
	// Ports counts the bridge's ports, the uplink included.
	Ports int `json:"ports"`
	// VLANAddresses are the box's addresses on VLAN interfaces.
	VLANAddresses []string `json:"vlan_addresses,omitempty"`
	// NAT lists the VLAN subnets routed to the uplink and masqueraded.
	NAT []string `json:"nat,omitempty"`
	// FirewallRules counts the rules of the box's own nftables table.
	FirewallRules int `json:"firewall_rules"`
	// PolicyRules counts the rules of the port policies' bridge table.
	PolicyRules int `json:"policy_rules"`
	// NetworkMS is the stage's time without the DHCP wait, DHCPWaitMS the
	// wait for the first lease, DoneMS the kernel uptime at the stage's
	// end (same clock as init_ms and ready_ms).
	NetworkMS  int64 `json:"network_ms"`
	DHCPWaitMS int64 `json:"dhcp_wait_ms"`
	DoneMS     int64 `json:"done_ms"`
}

// ProbeSummary is the connectivity check after the takeover.
type ProbeSummary struct {
	Target   string  `json:"target"`
	Method   string  `json:"method"`
	OK       bool    `json:"ok"`
	Attempts int     `json:"attempts"`
	MS       float64 `json:"ms"`
	Error    string  `json:"error,omitempty"`
}

// RollbackInfo says why the takeover was undone and where the address is.
type RollbackInfo struct {
	Reason    string `json:"reason"`
	Restored  string `json:"restored"`
	Reachable bool   `json:"reachable"`
}

func (*networkStage) Name() string { return plan.StageNetwork }

func (n *networkStage) Apply(ctx context.Context, d *plan.Desired) error {
	start := time.Now()
	spec := d.Network
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.open(); err != nil {
		return err
	}
	early := n.earlyFirewall(d)
	n.applying.Store(true)
	st, err := n.mgr.Apply(ctx, spec)
	n.applying.Store(false)
	fw := <-early
	rolledBack := errors.Is(err, netcfg.ErrRolledBack)
	if err != nil && !rolledBack {
		return err
	}
	sum := summarize(st, spec)
	logNetcfg(n.log, st, spec)

	// After a rollback the uplink is off the bridge and must stay off:
	// putting it back would cut the box off again.
	uplink := st.Uplink
	if st.Bridge == "" {
		uplink = ""
	}
	sw := d.Switch.WithUplink(uplink).WithTunnelSource(tunnelSource(st), st.Link)
	vst, err := n.sw.Reconcile(ctx, sw)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", sw.Bridge.Name, err)
	}
	n.setView(n.sw, &sw, spec.Uplink.Bond)
	if ts, err := n.sw.Tunnels(sw); err == nil {
		logTunnels(n.log, ts)
	}
	n.startBondWatch(spec.Uplink.Bond)
	sum.Filtering, sum.Ports = vst.Filtering, len(vst.Ports)
	for _, a := range sw.Addresses {
		sum.VLANAddresses = append(sum.VLANAddresses, fmt.Sprintf("%s %s", a.Link, a.Prefix))
	}
	n.log.Printf("switch %s: VLAN filtering %s, %d port(s)%s, %d change(s)", vst.Bridge, onOff(vst.Filtering),
		len(vst.Ports), vlanText(sum.VLANAddresses), vst.Changes)

	// The VLAN interfaces exist now; the rules name them, and the uplink
	// side is whichever link holds the box's address (the bare uplink
	// after a rollback). The early apply stands when it was for that link.
	fst, err := fw.st, fw.err
	if fw.link != st.Link || err != nil {
		fst, err = netcfg.ApplyFirewall(n.ns, st.Link, d.Firewall)
	}
	if err != nil {
		return err
	}
	sum.FirewallRules = len(fst.Rules)
	when := ""
	if fw.link == st.Link && fw.err == nil {
		when = ", applied beside the uplink's setup"
	}
	n.log.Printf("firewall inet %s: %d rule(s), %d change(s)%s", netcfg.FirewallTable, len(fst.Rules), fst.Changes, when)
	if err := n.applyPolicy(d.Policy, sum); err != nil {
		return err
	}

	nats := d.Firewall.NATs()
	for _, nt := range nats {
		sum.NAT = append(sum.NAT, nt.String())
	}
	if len(nats) > 0 {
		n.log.Printf("routing and masquerading %s behind %s", strings.Join(sum.NAT, ", "), st.Link)
	}

	total := time.Since(start)
	sum.DHCPWaitMS = st.LeaseWait.Milliseconds()
	sum.NetworkMS = (total - st.LeaseWait).Milliseconds()
	sum.DoneMS = n.uptime().Milliseconds()
	n.sum = sum
	if spec.IPv4.DHCP {
		n.log.Printf("ready in %d ms (%d ms without the DHCP wait)", total.Milliseconds(), sum.NetworkMS)
	} else {
		n.log.Printf("ready in %d ms", total.Milliseconds())
	}
	return nil
}

// firewallResult is an apply of the firewall for link.
type firewallResult struct {
	link string
	st   netcfg.FirewallStatus
	err  error
}

// earlyFirewall applies the firewall beside netcfg's apply when it names
// no interface but the one that will hold the box's address, the bridge
// (no segments): at boot netcfg spends most of its time waiting for the
// kernel to call the uplink up, and the rules are then in place when the
// takeover is done rather than some 50 ms after it under TCG. The rules
// match names, which need no link to exist. A rollback leaves the
// address on the bare uplink; the stage then applies the firewall again
// for it, as it does when this one failed. The channel yields an empty
// result at once when there is nothing to do early.
func (n *networkStage) earlyFirewall(d *plan.Desired) <-chan firewallResult {
	out := make(chan firewallResult, 1)
	link := d.Network.Bridge.Name
	if link == "" || len(d.Firewall.Segments) > 0 {
		out <- firewallResult{}
		return out
	}
	safe.Go(n.log.Printf, "firewall", func() {
		r := firewallResult{link: link, err: errors.New("firewall apply panicked")}
		defer func() { out <- r }()
		r.st, r.err = netcfg.ApplyFirewall(n.ns, link, d.Firewall)
	})
	return out
}

func (n *networkStage) open() error {
	if n.mgr != nil {
		return nil
	}
	log := n.log.Slog(&n.applying)
	ns, err := vswitch.OpenNamespace("")
	if err != nil {
		return err
	}
	// The box's one switch; the takeover goes through it too.
	sw, err := vswitch.Open(ns, log)
	if err != nil {
		ns.Close()
		return err
	}
	mgr, err := netcfg.New(netcfg.Options{Namespace: ns, Switch: sw, Logger: log})
	if err != nil {
		sw.Close()
		ns.Close()
		return err
	}
	n.ns, n.mgr, n.sw = ns, mgr, sw
	return nil
}

// Stop releases the DHCP lease (the server may hand the address to
// someone else at once) and closes the netlink sockets. The links stay:
// the kernel is about to go.
func (n *networkStage) Stop(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mgr == nil {
		return nil
	}
	dhcp := n.mgr.Status().Lease != nil
	if n.stopWatch != nil {
		n.stopWatch()
		n.stopWatch, n.bondWatch = nil, ""
	}
	n.setView(nil, nil, nil)
	err := n.mgr.Close()
	n.sw.Close()
	n.ns.Close()
	n.mgr, n.sw, n.ns = nil, nil, nil
	if dhcp && err == nil {
		n.log.Printf("DHCP lease released")
	}
	return err
}

// containerNetwork is the stage's switch with d's bridge for container
// NICs, nil when there is no switch (the stage did not run).
func (n *networkStage) containerNetwork(d *plan.Desired, log logger) *containers.Network {
	n.mu.Lock()
	sw, ns := n.sw, n.ns
	n.mu.Unlock()
	if sw == nil || ns == nil {
		return nil
	}
	return &containers.Network{Switch: policySwitch{n, sw}, Host: ns, Bridge: d.Switch.Bridge, Logger: log.Slog(nil)}
}

// leaseNTP are the NTP servers of the uplink's DHCP lease.
func (n *networkStage) leaseNTP() []string {
	var out []string
	if st := n.status(); st != nil && st.Lease != nil {
		for _, a := range st.Lease.NTP {
			out = append(out, a.String())
		}
	}
	return out
}

// status is netcfg's state of the box's network, nil before the stage
// ran.
func (n *networkStage) status() *netcfg.Status {
	n.mu.Lock()
	mgr := n.mgr
	n.mu.Unlock()
	if mgr == nil {
		return nil
	}
	st := mgr.Status()
	return &st
}

func (n *networkStage) Report(s *Summary) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.sum != nil {
		c := *n.sum
		s.Network = &c
	}
}

func summarize(st netcfg.Status, spec netcfg.Spec) *NetworkSummary {
	s := &NetworkSummary{
		Uplink: st.Uplink, UplinkMAC: st.UplinkMAC.String(), Bridge: st.Bridge, Link: st.Link,
		Addresses: strs(st.Addresses), DNS: strs(st.DNS), DHCP: spec.IPv4.DHCP,
	}
	if st.Gateway.IsValid() {
		s.Gateway = st.Gateway.String()
	}
	s.IPv6, s.IPv6Mode = strs(st.IPv6), spec.IPv6.Mode
	if st.Gateway6.IsValid() {
		s.Gateway6 = st.Gateway6.String()
	}
	if p := st.Probe6; p != nil {
		s.Probe6 = &ProbeSummary{Target: p.Target.String(), Method: p.Method, OK: p.OK,
			Attempts: p.Attempts, MS: msf(p.Elapsed), Error: p.Error}
	}
	if st.Lease != nil && st.Lease.Server.IsValid() {
		s.LeaseServer = st.Lease.Server.String()
	}
	if t := st.Takeover; t != nil {
		s.MovedMS, s.OutageMS = msf(t.Moved), msf(t.Outage)
	}
	if p := st.Probe; p != nil {
		s.Probe = &ProbeSummary{Target: p.Target.String(), Method: p.Method, OK: p.OK,
			Attempts: p.Attempts, MS: msf(p.Elapsed), Error: p.Error}
	}
	if r := st.Rollback; r != nil {
		s.Rollback = &RollbackInfo{Reason: r.Reason, Restored: r.Restored, Reachable: r.Reachable}
	}
	return s
}

// logNetcfg tells in plain words what netcfg did.
func logNetcfg(log logger, st netcfg.Status, spec netcfg.Spec) {
	log.Printf("uplink %s (%s) carrier up", st.Uplink, st.UplinkMAC)
	var addr string
	if l := st.Lease; l != nil {
		addr = fmt.Sprintf("lease %s from %s after %d ms", l.Address, l.Server, st.LeaseWait.Milliseconds())
	} else {
		addr = "static address " + strings.Join(strs(st.Addresses), ", ")
	}
	if st.Gateway.IsValid() {
		addr += ", gateway " + st.Gateway.String()
	}
	var how string
	switch {
	case st.Rollback != nil:
		r := st.Rollback
		reach := "gateway unreachable there too"
		if r.Reachable {
			reach = "reachable there"
		}
		log.Printf("%s; bridge takeover ROLLED BACK: %s; address back on %s, %s", addr, r.Reason, r.Restored, reach)
		return
	case st.Takeover != nil && st.Bridge != "":
		how = fmt.Sprintf(", moved to %s in %.0f ms", st.Bridge, msf(st.Takeover.Moved))
	case st.Bridge != "":
		how = ", on " + st.Bridge
	}
	switch p := st.Probe; {
	case spec.Probe.Disabled:
		how += ", probe disabled"
	case p == nil:
		how += ", not probed (no gateway)"
	case p.OK && st.Takeover != nil && st.Takeover.Outage > 0:
		how += fmt.Sprintf(", %s reachable (%s, %d attempt(s)), outage %.0f ms", p.Target, p.Method, p.Attempts, msf(st.Takeover.Outage))
	case p.OK:
		how += fmt.Sprintf(", %s reachable", p.Target)
	}
	log.Printf("%s%s", addr, how)
	v6 := "ipv6 " + spec.IPv6.Mode
	if len(st.IPv6) > 0 {
		v6 += ": " + strings.Join(strs(st.IPv6), ", ")
	}
	if st.Gateway6.IsValid() {
		v6 += ", router " + st.Gateway6.String()
	}
	if p := st.Probe6; p != nil && p.OK {
		v6 += fmt.Sprintf(" (answers neighbour solicitations, %d attempt(s))", p.Attempts)
	}
	if l := st.Lease6; l != nil {
		v6 += ", DHCPv6 " + l.State
	}
	log.Printf("%s", v6)
}

func vlanText(addrs []string) string {
	if len(addrs) == 0 {
		return ""
	}
	return ", " + strings.Join(addrs, ", ")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func strs[T interface {
	netip.Addr | netip.Prefix
}](xs []T) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func msf(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
