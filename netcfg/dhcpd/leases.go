package dhcpd

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nucbox/nucbox/internal/atomicfile"
)

// offerHold is how long an offered address stays kept for its client
// before the client's request: long enough for a slow client under TCG,
// short enough that a client that went elsewhere does not pin it.
const offerHold = 60 * time.Second

// maxScan bounds the search for a never-leased address, so that a very
// large range costs a bounded time per request.
const maxScan = 1 << 16

// LeasesFile is the file in the server's directory that holds the leases.
const LeasesFile = "leases.json"

// Lease is one client's address on one VLAN.
type Lease struct {
	VLAN    int        `json:"vlan"`
	MAC     string     `json:"mac"`
	Address netip.Addr `json:"address"`
	// Name is the workload the MAC belongs to, from the config.
	Name string `json:"name,omitempty"`
	// Hostname is the name the client sent (option 12), when it is a
	// valid DNS label.
	Hostname string    `json:"hostname,omitempty"`
	Expires  time.Time `json:"expires"`
	// Fixed marks a host's fixed address from the config.
	Fixed bool `json:"fixed,omitempty"`
	// offered marks an address held for an offer, not yet acknowledged:
	// not persisted and not shown.
	offered bool
}

// Active reports whether the lease holds its address at now.
func (l *Lease) Active(now time.Time) bool { return now.Before(l.Expires) }

type key struct {
	vlan int
	mac  string
}

type vaddr struct {
	vlan int
	addr netip.Addr
}

// table is the leases of every scope. Its methods are called with the
// server's lock held.
type table struct {
	leases   map[key]*Lease
	declined map[vaddr]time.Time
}

func newTable() *table {
	return &table{leases: map[key]*Lease{}, declined: map[vaddr]time.Time{}}
}

// holder is the lease holding addr on vlan at now, other than mac's.
func (t *table) holder(vlan int, addr netip.Addr, mac string, now time.Time) *Lease {
	for k, l := range t.leases {
		if k.vlan == vlan && k.mac != mac && l.Address == addr && l.Active(now) {
			return l
		}
	}
	return nil
}

// free reports whether addr may be given to mac on sc at now: no other
// client holds it, no known host has it fixed, no client declined it
// lately.
func (t *table) free(sc *Scope, addr netip.Addr, mac string, now time.Time) bool {
	if until, ok := t.declined[vaddr{sc.VLAN, addr}]; ok && now.Before(until) {
		return false
	}
	for _, h := range sc.Hosts {
		if h.Address == addr && h.MAC != mac {
			return false
		}
	}
	return t.holder(sc.VLAN, addr, mac, now) == nil
}

// choose picks mac's address on sc, or false when the range is full.
func (t *table) choose(sc *Scope, mac string, requested netip.Addr, now time.Time) (netip.Addr, bool) {
	if h := sc.host(mac); h != nil && h.Address.IsValid() {
		return h.Address, true
	}
	if l := t.leases[key{sc.VLAN, mac}]; l != nil && sc.InRange(l.Address) && t.free(sc, l.Address, mac, now) {
		return l.Address, true
	}
	if sc.InRange(requested) && t.free(sc, requested, mac, now) {
		return requested, true
	}
	used := map[netip.Addr]bool{}
	for k, l := range t.leases {
		if k.vlan == sc.VLAN {
			used[l.Address] = true
		}
	}
	n := 0
	for a := sc.First; a.IsValid() && !sc.Last.Less(a) && n < maxScan; a, n = a.Next(), n+1 {
		if !used[a] && t.free(sc, a, mac, now) {
			return a, true
		}
	}
	// Every address has been leased once: reuse the one expired longest.
	var best *Lease
	for k, l := range t.leases {
		if k.vlan == sc.VLAN && !l.Active(now) && sc.InRange(l.Address) && t.free(sc, l.Address, mac, now) &&
			(best == nil || l.Expires.Before(best.Expires)) {
			best = l
		}
	}
	if best != nil {
		return best.Address, true
	}
	return netip.Addr{}, false
}

// set records mac's lease of addr on sc until expires, dropping other
// clients' expired records of the same address, so that the table holds
// at most one record per address.
func (t *table) set(sc *Scope, mac string, addr netip.Addr, expires time.Time, offered bool) *Lease {
	for k, l := range t.leases {
		if k.vlan == sc.VLAN && k.mac != mac && l.Address == addr {
			delete(t.leases, k)
		}
	}
	k := key{sc.VLAN, mac}
	l := t.leases[k]
	if l == nil || l.Address != addr {
		l = &Lease{VLAN: sc.VLAN, MAC: mac, Address: addr}
		t.leases[k] = l
	}
	if h := sc.host(mac); h != nil {
		l.Name, l.Fixed = h.Name, h.Address.IsValid()
	}
	switch {
	case !offered:
		l.Expires, l.offered = expires, false
	case l.offered || expires.After(l.Expires):
		// An offer never shortens a lease the client already holds.
		l.Expires, l.offered = expires, true
	}
	return l
}

func (sc *Scope) host(mac string) *Host {
	for i := range sc.Hosts {
		if sc.Hosts[i].MAC == mac {
			return &sc.Hosts[i]
		}
	}
	return nil
}

// list is the acknowledged leases, by VLAN and address.
func (t *table) list() []Lease {
	var out []Lease
	for _, l := range t.leases {
		if !l.offered {
			out = append(out, *l)
		}
	}
	slices.SortFunc(out, func(a, b Lease) int {
		if a.VLAN != b.VLAN {
			return a.VLAN - b.VLAN
		}
		return a.Address.Compare(b.Address)
	})
	return out
}

type leaseFile struct {
	Leases []Lease `json:"leases"`
}

// save writes the acknowledged leases to dir, atomically.
func (t *table) save(dir string) error {
	if dir == "" {
		return nil
	}
	b, err := json.MarshalIndent(leaseFile{Leases: t.list()}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, LeasesFile), append(b, '\n'), 0o600)
}

// load reads the leases saved in dir; a missing file is an empty table.
// A damaged file is reported and left in place for a person to look at:
// the server starts empty and rewrites it only at its next change.
func (t *table) load(dir string) error {
	if dir == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(dir, LeasesFile))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var f leaseFile
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	for _, l := range f.Leases {
		if l.MAC == "" || !l.Address.Is4() {
			continue
		}
		l := l
		t.leases[key{l.VLAN, l.MAC}] = &l
	}
	return nil
}

var labelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// cleanHostname is a client's host name option as a DNS label, or ""
// when it is not one: the name is the client's claim and ends up in DNS
// answers.
func cleanHostname(s string) string {
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = s[:i]
	}
	if !labelRE.MatchString(s) {
		return ""
	}
	return s
}
