package netcfg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/dhcpv6/nclient6"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/nucbox/nucbox/internal/safe"
)

// Lease6 is the box's DHCPv6 lease on the lab network and the client's
// progress on it.
type Lease6 struct {
	// Address is the leased address, a /128: the lab's prefix and the
	// routes come from its router adverts.
	Address  netip.Prefix
	Link     string
	Acquired time.Time
	// Renew is when the client asks again (T1), Expiry the address's
	// valid lifetime's end.
	Renew  time.Time
	Expiry time.Time
	// State is init, bound or stopped.
	State     string
	Renewals  int
	LastError string
}

// dhcp6Client keeps one DHCPv6 address (IA_NA) on one link. Its identity,
// a DUID-LL from the MAC and the IAID from the MAC's last bytes, does not
// depend on the time or the link: after the takeover it asks again on
// the bridge, which has the uplink's MAC, and the server gives the same
// address. It renews by asking again at T1 (Solicit and Request: a
// server that knows the DUID and IAID answers with the same binding).
type dhcp6Client struct {
	m       *Manager
	k       kernel
	changes atomic.Int64
	mac     net.HardwareAddr
	log     *slog.Logger

	mu     sync.Mutex
	link   string
	st     Lease6
	cancel context.CancelFunc
	done   <-chan struct{}
}

func newDHCP6Client(m *Manager, mac net.HardwareAddr) *dhcp6Client {
	c := &dhcp6Client{m: m, mac: mac, log: m.log.With("dhcp", "v6"), st: Lease6{State: "stopped"}}
	c.k = kernel{h: m.h, n: &c.changes}
	return c
}

func (c *dhcp6Client) running() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel == nil {
		return ""
	}
	return c.link
}

// start runs the client on link (it must not be running).
func (c *dhcp6Client) start(link string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.link, c.cancel = link, cancel
	c.st.Link = link
	if c.st.Address.IsValid() {
		c.st.State = "bound"
	} else {
		c.st.State = "init"
	}
	c.done = safe.Loop(ctx, safe.Slog(c.log), "dhcpv6 client on "+link, safe.DefaultBackoff, func(ctx context.Context) error {
		c.run(ctx, link)
		return nil
	})
}

// stop ends the client; with release the address goes too.
func (c *dhcp6Client) stop(release bool) {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.cancel = nil
	c.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	c.mu.Lock()
	c.st.State = "stopped"
	c.mu.Unlock()
	if release {
		if err := c.m.putV6(c.k, v6Addr{}); err != nil {
			c.log.Warn("DHCPv6 address not removed", "err", err)
		}
		c.mu.Lock()
		c.st.Address = netip.Prefix{}
		c.mu.Unlock()
	}
}

func (c *dhcp6Client) status() *Lease6 {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st
	return &st
}

// run asks for an address until ctx ends: at once, then at each T1; a
// failed exchange is retried with a growing delay up to a minute, and
// an address whose lifetime ran out meanwhile is removed.
func (c *dhcp6Client) run(ctx context.Context, link string) {
	retry := time.Second
	for ctx.Err() == nil {
		a, t1, err := c.exchange(ctx, link)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.mu.Lock()
			c.st.LastError = err.Error()
			expired := c.st.Address.IsValid() && !c.st.Expiry.IsZero() && time.Now().After(c.st.Expiry)
			c.mu.Unlock()
			if expired {
				c.log.Warn("DHCPv6 address expired", "link", link)
				_ = c.m.putV6(c.k, v6Addr{})
				c.mu.Lock()
				c.st.Address, c.st.State = netip.Prefix{}, "init"
				c.mu.Unlock()
			}
			c.log.Debug("DHCPv6 exchange failed", "link", link, "err", err, "retry", retry)
			sleep(ctx, retry)
			retry = min(2*retry, time.Minute)
			continue
		}
		retry = time.Second
		if err := c.m.putV6(c.k, a); err != nil {
			c.log.Warn("DHCPv6 address not applied", "address", a.addr, "err", err)
		}
		now := time.Now()
		c.mu.Lock()
		if c.st.Address == a.addr {
			c.st.Renewals++
		} else {
			c.log.Info("DHCPv6 address bound", "link", link, "address", a.addr, "valid", a.valid)
			c.st.Acquired = now
		}
		c.st.Address, c.st.State, c.st.LastError = a.addr, "bound", ""
		c.st.Renew, c.st.Expiry = now.Add(t1), now.Add(a.valid)
		c.mu.Unlock()
		sleep(ctx, t1)
	}
}

// exchange is one Solicit/Advertise/Request/Reply on link: the address
// offered and when to ask again.
func (c *dhcp6Client) exchange(ctx context.Context, link string) (v6Addr, time.Duration, error) {
	var nc *nclient6.Client
	// The socket is bound to the link's link-local address, which is
	// unusable while the kernel checks it for duplicates (about a second
	// after the link comes up): the exchange then fails and is retried.
	err := c.m.ns.Do(func() (err error) {
		nc, err = nclient6.New(link, nclient6.WithTimeout(2*time.Second), nclient6.WithRetry(2))
		return err
	})
	if err != nil {
		return v6Addr{}, 0, fmt.Errorf("DHCPv6 client on %s: %w", link, err)
	}
	defer nc.Close()
	duid := &dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: c.mac}
	mods := []dhcpv6.Modifier{dhcpv6.WithClientID(duid), dhcpv6.WithIAID(iaid(c.mac))}
	adv, err := nc.Solicit(ctx, mods...)
	if err != nil {
		return v6Addr{}, 0, fmt.Errorf("solicit: %w", err)
	}
	reply, err := nc.Request(ctx, adv, mods...)
	if err != nil {
		return v6Addr{}, 0, fmt.Errorf("request: %w", err)
	}
	return leaseOf6(reply, link)
}

func iaid(mac net.HardwareAddr) [4]byte {
	var id [4]byte
	if len(mac) >= 4 {
		copy(id[:], mac[len(mac)-4:])
	}
	return id
}

// leaseOf6 reads the address and its times from a server's reply; what
// the server sent is checked before it reaches the kernel.
func leaseOf6(reply *dhcpv6.Message, link string) (v6Addr, time.Duration, error) {
	if reply.MessageType != dhcpv6.MessageTypeReply {
		return v6Addr{}, 0, fmt.Errorf("answer %s, want a reply", reply.MessageType)
	}
	ia := reply.Options.OneIANA()
	if ia == nil {
		return v6Addr{}, 0, errors.New("reply without an address (IA_NA)")
	}
	if s := ia.Options.Status(); s != nil && s.StatusCode != iana.StatusSuccess {
		return v6Addr{}, 0, fmt.Errorf("server: %s", s)
	}
	o := ia.Options.OneAddress()
	if o == nil {
		return v6Addr{}, 0, errors.New("reply without an address in its IA_NA")
	}
	a, ok := netip.AddrFromSlice(o.IPv6Addr)
	if !ok || !a.Is6() || a.Is4In6() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() || a.IsLoopback() {
		return v6Addr{}, 0, fmt.Errorf("server offered %v, not a global unicast IPv6 address", o.IPv6Addr)
	}
	valid, preferred := o.ValidLifetime, o.PreferredLifetime
	if valid <= 0 || valid > 30*24*time.Hour {
		valid = 30 * 24 * time.Hour
	}
	preferred = min(max(preferred, 0), valid)
	// RFC 8415 21.4: T1 0 leaves the time to the client; half the
	// preferred lifetime, within a minute and a day.
	t1 := ia.T1
	if t1 <= 0 || t1 > valid {
		t1 = preferred / 2
	}
	t1 = min(max(t1, time.Minute), 24*time.Hour)
	return v6Addr{link: link, addr: netip.PrefixFrom(a, 128), valid: valid, preferred: preferred}, t1, nil
}
