package timesync

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultServers are asked when neither the config nor the DHCP server
// names any: the public pool, as distributions do.
var DefaultServers = []string{"pool.ntp.org"}

const (
	// DefaultInterval is the time between two syncs that succeeded.
	DefaultInterval = 15 * time.Minute
	// QueryTimeout bounds one server's answer.
	QueryTimeout = 2 * time.Second
	// StepThreshold is the offset from which the clock is stepped rather
	// than slewed, as ntpd's default: a slew of more would take hours.
	StepThreshold = 128 * time.Millisecond
)

// saneAfter is a time no clock of a box running this code can be before:
// a clock that reads earlier was never set (a flat battery, a fresh
// virtual machine), so nothing that checks a certificate can trust it.
var saneAfter = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// Sane reports whether t can be the current time.
func Sane(t time.Time) bool { return !t.Before(saneAfter) }

// Sample is one server's answer: how far the local clock is off.
type Sample struct {
	Offset  time.Duration // add to the local clock to get the server's
	RTT     time.Duration
	Stratum int
	// Addr is the address that answered; RootDelay and RootDispersion
	// the server's own, which the box's NTP server passes on.
	Addr                      netip.Addr
	RootDelay, RootDispersion time.Duration
}

// Options are a Clock's collaborators; the zero value queries NTP and
// sets the system and hardware clocks.
type Options struct {
	Logf func(format string, args ...any)
	// Query asks one server, "host" or "host:port"; default NTP.
	Query func(server string) (Sample, error)
	// Adjust moves the system clock by offset; default Adjust.
	Adjust func(offset time.Duration) (stepped bool, err error)
	// Now is the wall clock; default time.Now.
	Now func() time.Time
	// Interval is the time between syncs (default DefaultInterval); a
	// failed sync is retried sooner.
	Interval time.Duration
}

// Status is what the box shows of its clock.
type Status struct {
	// Servers are the ones asked, and Source where they came from
	// (config, dhcp, command line, default).
	Servers []string `json:"servers,omitempty"`
	Source  string   `json:"source,omitempty"`
	// Synced is set once a server answered this boot.
	Synced bool `json:"synced"`
	// Server answered the last sync that succeeded; Offset is how far
	// the clock was off then, and Stepped whether it jumped rather
	// than slewed.
	Server  string        `json:"server,omitempty"`
	Offset  time.Duration `json:"offset_ns,omitempty"`
	RTT     time.Duration `json:"rtt_ns,omitempty"`
	Stratum int           `json:"stratum,omitempty"`
	Stepped bool          `json:"stepped,omitempty"`
	At      time.Time     `json:"at,omitzero"`
	// Addr answered the last sync, with its root delay and dispersion:
	// what the box's own NTP server tells its clients.
	Addr                      netip.Addr    `json:"-"`
	RootDelay, RootDispersion time.Duration `json:"-"`
	// Error is the last sync's failure, cleared by a success.
	Error string `json:"error,omitempty"`
}

// Clock syncs the system clock with NTP servers. It is safe for
// concurrent use.
type Clock struct {
	o Options

	mu        sync.Mutex
	st        Status
	attempted chan struct{} // closed after the first sync attempt
	kick      chan struct{}
}

// New makes a Clock with no servers.
func New(o Options) *Clock {
	if o.Query == nil {
		o.Query = Query
	}
	if o.Adjust == nil {
		o.Adjust = Adjust
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return &Clock{o: o, attempted: make(chan struct{}), kick: make(chan struct{}, 1)}
}

// SetServers names the servers to ask and where they came from; a new
// list is synced with at once by Run.
func (c *Clock) SetServers(servers []string, source string) {
	c.mu.Lock()
	changed := !slices.Equal(c.st.Servers, servers) || c.st.Source != source
	c.st.Servers, c.st.Source = slices.Clone(servers), source
	c.mu.Unlock()
	if changed {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

// Status is the clock's state.
func (c *Clock) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st
	st.Servers = slices.Clone(st.Servers)
	return st
}

// Sync asks every server once and sets the clock from the answer with the
// shortest round trip: the one least distorted by the network.
func (c *Clock) Sync(ctx context.Context) error {
	c.mu.Lock()
	servers := slices.Clone(c.st.Servers)
	c.mu.Unlock()
	err := c.sync(ctx, servers)
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.attempted:
	default:
		close(c.attempted)
	}
	if err != nil {
		c.st.Error = err.Error()
	}
	return err
}

func (c *Clock) sync(ctx context.Context, servers []string) error {
	if len(servers) == 0 {
		return errors.New("no NTP server: name some in time.servers, or have the DHCP server send option 42")
	}
	var (
		best     Sample
		bestFrom string
		errs     []string
	)
	for _, s := range servers {
		if ctx.Err() != nil {
			break
		}
		smp, err := c.o.Query(s)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", s, err))
			continue
		}
		if bestFrom == "" || smp.RTT < best.RTT {
			best, bestFrom = smp, s
		}
	}
	if bestFrom == "" {
		if len(errs) == 0 {
			return ctx.Err()
		}
		return fmt.Errorf("no NTP server answered: %s", strings.Join(errs, "; "))
	}
	before := c.o.Now()
	stepped, err := c.o.Adjust(best.Offset)
	if err != nil {
		return fmt.Errorf("setting the clock from %s (offset %s): %w", bestFrom, best.Offset, err)
	}
	c.mu.Lock()
	first := !c.st.Synced
	c.st.Synced, c.st.Server, c.st.Offset, c.st.RTT = true, bestFrom, best.Offset, best.RTT
	c.st.Stratum, c.st.Stepped, c.st.At, c.st.Error = best.Stratum, stepped, c.o.Now(), ""
	c.st.Addr, c.st.RootDelay, c.st.RootDispersion = best.Addr, best.RootDelay, best.RootDispersion
	c.mu.Unlock()
	if first || stepped {
		how := "slewed"
		if stepped {
			how = "stepped"
		}
		c.o.Logf("clock %s by %s from %s (stratum %d, round trip %s): was %s, now %s",
			how, FormatOffset(best.Offset), bestFrom, best.Stratum, best.RTT.Round(time.Millisecond),
			before.UTC().Format(time.RFC3339), c.o.Now().UTC().Format(time.RFC3339))
	}
	return nil
}

// WaitFirst waits until the first sync attempt has ended (or ctx).
func (c *Clock) WaitFirst(ctx context.Context) {
	select {
	case <-c.attempted:
	case <-ctx.Done():
	}
}

// Run syncs until ctx ends: at once, then every Interval, sooner after a
// failure (10 s doubling up to the interval) or new servers.
func (c *Clock) Run(ctx context.Context) {
	retry := 10 * time.Second
	for {
		// A kick from before this sync is served by it.
		select {
		case <-c.kick:
		default:
		}
		wait := c.o.Interval
		if err := c.Sync(ctx); err != nil {
			c.o.Logf("warning: %v; retrying in %s", err, retry)
			wait = retry
			retry = min(2*retry, c.o.Interval)
		} else {
			retry = 10 * time.Second
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-c.kick:
			retry = 10 * time.Second
		case <-t.C:
		}
		t.Stop()
	}
}

// FormatOffset writes a clock's error for people: milliseconds when
// small, days when the clock had never been set.
func FormatOffset(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%s%d days", sign, d/(24*time.Hour))
	case d >= time.Second:
		return sign + d.Round(100*time.Millisecond).String()
	}
	return sign + d.Round(time.Millisecond).String()
}

// Spec is where a box's clock comes from, as its config compiles.
type Spec struct {
	// Servers are the NTP servers to ask; empty asks those of the
	// uplink's DHCP lease, else DefaultServers.
	Servers []string `json:"servers,omitempty"`
}
