package pxed

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// maxMachines bounds the table: a segment full of clients sending made-up
// MACs must not grow PID 1's memory without end. The oldest go first.
const maxMachines = 1024

// Machine is one machine the boot server heard from.
type Machine struct {
	MAC string `json:"mac"`
	// Address is its IPv4 address when it had one.
	Address string `json:"address,omitempty"`
	// Config is set once the box served it a config; a machine that asked
	// for one and got none boots into maintenance mode.
	Config bool `json:"config"`
	// Asked is set once it asked for its config.
	Asked     bool      `json:"asked,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Via is what it was last seen by: dhcp, tftp, http or config.
	Via string `json:"via"`

	// booted is when it was last sent boot options.
	booted time.Time
}

// machines is the table of machines seen, by MAC.
type machines struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]*Machine
}

func newMachines(now func() time.Time) *machines {
	return &machines{now: now, m: map[string]*Machine{}}
}

// seen records mac (canonical text) at addr (invalid when unknown).
func (t *machines) seen(mac string, addr netip.Addr, via string) *Machine {
	now := t.now()
	m := t.m[mac]
	if m == nil {
		if len(t.m) >= maxMachines {
			t.dropOldest()
		}
		m = &Machine{MAC: mac, FirstSeen: now}
		t.m[mac] = m
	}
	m.LastSeen, m.Via = now, via
	if addr.IsValid() && !addr.IsUnspecified() {
		m.Address = addr.String()
	}
	return m
}

func (t *machines) dropOldest() {
	var oldest *Machine
	for _, m := range t.m {
		if oldest == nil || m.LastSeen.Before(oldest.LastSeen) {
			oldest = m
		}
	}
	delete(t.m, oldest.MAC)
}

// record notes a message from mac.
func (t *machines) record(mac string, addr netip.Addr, via string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seen(mac, addr, via)
}

// bootFrom notes boot options sent to mac.
func (t *machines) bootFrom(mac string, addr netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.seen(mac, addr, "dhcp")
	m.booted = t.now()
}

// asked notes a config request from mac, served or not.
func (t *machines) asked(mac string, addr netip.Addr, served bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.seen(mac, addr, "config")
	m.Asked, m.Config = true, served
}

// byAddr notes traffic from addr (TFTP, HTTP: no MAC there) on the
// machine that has it.
func (t *machines) byAddr(addr netip.Addr, via string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range t.m {
		if m.Address == addr.String() {
			m.LastSeen, m.Via = t.now(), via
			return
		}
	}
}

// list is every machine, by MAC.
func (t *machines) list() []Machine {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Machine, 0, len(t.m))
	for _, m := range t.m {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Machine) int { return strings.Compare(a.MAC, b.MAC) })
	return out
}
