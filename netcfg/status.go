package netcfg

import (
	"net"
	"net/netip"
	"slices"
	"time"
)

// Status is the box's own network after an Apply, for logs and the API.
type Status struct {
	Uplink    string
	UplinkMAC net.HardwareAddr
	// Bridge is set once the bridge has taken the uplink over.
	Bridge string
	// Link holds the box's address: the bridge after a takeover, the
	// uplink before or after a rollback.
	Link      string
	Addresses []netip.Prefix
	Gateway   netip.Addr
	// IPv6 are the global IPv6 addresses on Link (SLAAC, DHCPv6 or
	// static) and Gateway6 the IPv6 default router there.
	IPv6     []netip.Prefix
	Gateway6 netip.Addr
	DNS      []netip.Addr
	// Lease6 is the DHCPv6 lease; nil unless the uplink takes DHCPv6.
	Lease6 *Lease6
	// Lease is the DHCP lease; nil with a static address.
	Lease *Lease
	// LeaseWait is how long the last Apply waited for a DHCP lease, so
	// that callers can tell the box's own work from the server's delay.
	LeaseWait time.Duration
	// Takeover describes the last move onto the bridge.
	Takeover *Takeover
	// Probe is the last connectivity check; Probe6 the last one of the
	// static IPv6 router.
	Probe  *ProbeResult
	Probe6 *ProbeResult
	// Rollback is set when the last Apply undid its change.
	Rollback *Rollback
	// Changes counts the mutating netlink calls the last Apply made; a
	// repeated Apply of the same Spec makes none.
	Changes int
}

// Lease is a DHCPv4 lease and the client's progress on it.
type Lease struct {
	Address netip.Prefix
	Server  netip.Addr
	Router  netip.Addr
	DNS     []netip.Addr
	// NTP are the time servers the DHCP server named (option 42).
	NTP    []netip.Addr
	Domain string
	// Hostname is the name the server assigned (option 12), if any.
	Hostname string
	Link     string
	Acquired time.Time
	T1       time.Time
	T2       time.Time
	Expiry   time.Time // zero for an infinite lease
	// State is one of init, bound, renewing, rebinding, stopped.
	State    string
	Renewals int
	Rebinds  int
	// LastError is the last failed exchange, cleared on success.
	LastError string
}

// Takeover is one move of the box's address from the uplink onto the
// bridge.
type Takeover struct {
	Start time.Time
	// Moved is the time from enslaving the uplink until the address and
	// routes were on the bridge.
	Moved time.Duration
	// Outage is the time from enslaving the uplink until the probe got its
	// first answer through the bridge; 0 when the probe is disabled.
	Outage    time.Duration
	Addresses []netip.Prefix
	Routes    int
}

// ProbeResult is one connectivity check.
type ProbeResult struct {
	Link   string
	Target netip.Addr
	// NextHop is the address ARP was sent for (the target or its gateway).
	NextHop netip.Addr
	// Method is arp, or arp+icmp for a target behind a gateway.
	Method   string
	OK       bool
	Attempts int
	Elapsed  time.Duration
	Error    string
}

// Rollback records an Apply that restored the previous state.
type Rollback struct {
	At     time.Time
	Reason string
	// Restored is the link holding the address again.
	Restored string
	// Reachable is the probe's verdict on the restored state.
	Reachable bool
}

func (s Status) clone() Status {
	c := s
	c.UplinkMAC = slices.Clone(s.UplinkMAC)
	c.Addresses = slices.Clone(s.Addresses)
	c.IPv6 = slices.Clone(s.IPv6)
	if s.Lease6 != nil {
		l := *s.Lease6
		c.Lease6 = &l
	}
	if s.Probe6 != nil {
		p := *s.Probe6
		c.Probe6 = &p
	}
	c.DNS = slices.Clone(s.DNS)
	if s.Lease != nil {
		l := *s.Lease
		l.DNS = slices.Clone(l.DNS)
		c.Lease = &l
	}
	if s.Takeover != nil {
		t := *s.Takeover
		t.Addresses = slices.Clone(t.Addresses)
		c.Takeover = &t
	}
	if s.Probe != nil {
		p := *s.Probe
		c.Probe = &p
	}
	if s.Rollback != nil {
		r := *s.Rollback
		c.Rollback = &r
	}
	return c
}
