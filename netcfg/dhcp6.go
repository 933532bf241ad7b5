package netcfg

import (
	"context"
	"encoding/hex"
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

	"github.com/nucbox/nucbox/internal/linksock"
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
	// Server is the identifier (DUID) of the server that holds the
	// binding, as hex.
	Server string
	// Renew is when the client asks its server to extend the binding
	// (T1), Rebind when it asks any server (T2), Expiry the address's
	// valid lifetime's end.
	Renew  time.Time
	Rebind time.Time
	Expiry time.Time
	// State is init, bound, renewing, rebinding or stopped.
	State     string
	Renewals  int
	LastError string
}

// dhcp6Client keeps one DHCPv6 address (IA_NA) on one link through its
// life as RFC 8415 18.2 has it: Solicit and Request for a binding, Renew
// to the server holding it from T1, Rebind to any server from T2, the
// address removed at the end of its valid lifetime, and Release when the
// box stops using it. Its identity, a DUID-LL from the MAC and the IAID
// from the MAC's last bytes, does not depend on the time or the link:
// after the takeover it carries on on the bridge, which has the
// uplink's MAC, with the same binding.
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
	// cur is the binding; only the run goroutine changes it, and stop
	// once that has ended.
	cur *binding6
}

// binding6 is one server's binding of the box's address: what a Renew
// or a Release names.
type binding6 struct {
	a      v6Addr
	server dhcpv6.DUID
	iaid   [4]byte
	// at is when the reply came: T1, T2 and the lifetimes count from it.
	at     time.Time
	t1, t2 time.Duration
}

func (b *binding6) renewAt() time.Time  { return b.at.Add(b.t1) }
func (b *binding6) rebindAt() time.Time { return b.at.Add(b.t2) }
func (b *binding6) expiry() time.Time   { return b.at.Add(b.a.valid) }

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

// stop ends the client; with release the box gives the address back to
// its server and removes it.
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
		c.giveBack()
		if err := c.m.putV6(c.k, v6Addr{}); err != nil {
			c.log.Warn("DHCPv6 address not removed", "err", err)
		}
	}
}

// giveBack releases the binding of a stopped client to its server, if
// it is still valid; the caller removes the address.
func (c *dhcp6Client) giveBack() {
	c.mu.Lock()
	link := c.link
	c.mu.Unlock()
	if b := c.cur; b != nil && time.Now().Before(b.expiry()) {
		if err := c.release(link, b); err != nil {
			c.log.Warn("DHCPv6 release not answered", "address", b.a.addr, "err", err)
		}
	}
	c.cur = nil
	c.mu.Lock()
	c.st.Address = netip.Prefix{}
	c.mu.Unlock()
}

func (c *dhcp6Client) status() *Lease6 {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st
	return &st
}

// run keeps the binding until ctx ends. A failed exchange is retried
// with a growing delay up to a minute, never past the next of T2 and the
// address's end, which change what the client sends.
func (c *dhcp6Client) run(ctx context.Context, link string) {
	retry := time.Second
	for ctx.Err() == nil {
		b, now := c.cur, time.Now()
		var (
			nb   *binding6
			err  error
			next time.Time
		)
		switch {
		case b != nil && !now.Before(b.expiry()):
			c.log.Warn("DHCPv6 address expired", "link", link, "address", b.a.addr)
			c.drop("init", "the address's valid lifetime ended")
			continue
		case b != nil && now.Before(b.renewAt()):
			sleepUntil(ctx, b.renewAt())
			continue
		case b == nil:
			nb, err = c.exchange(ctx, link)
			next = now.Add(retry)
		default:
			rebind := !now.Before(b.rebindAt())
			c.setState(map[bool]string{false: "renewing", true: "rebinding"}[rebind])
			end := b.rebindAt()
			if rebind {
				end = b.expiry()
			}
			// An exchange does not outlast its phase: at T2 the
			// client rebinds, at the end the address goes.
			actx, cancel := context.WithDeadline(ctx, end)
			nb, err = c.extend(actx, link, b, rebind)
			cancel()
			next = minTime(now.Add(retry), end)
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errNoBinding) {
			// The server no longer has the binding (or withdrew the
			// address): the address goes, and the client starts over.
			c.log.Warn("DHCPv6 binding lost", "link", link, "err", err)
			c.drop("init", err.Error())
			continue
		}
		if err != nil {
			c.mu.Lock()
			c.st.LastError = err.Error()
			c.mu.Unlock()
			c.log.Debug("DHCPv6 exchange failed", "link", link, "err", err, "next", time.Until(next))
			sleepUntil(ctx, next)
			retry = min(2*retry, time.Minute)
			continue
		}
		retry = time.Second
		c.bind(link, b, nb)
	}
}

// bind applies the binding a server's reply gave.
func (c *dhcp6Client) bind(link string, old, b *binding6) {
	if err := c.m.putV6(c.k, b.a); err != nil {
		c.log.Warn("DHCPv6 address not applied", "address", b.a.addr, "err", err)
	}
	c.cur = b
	c.mu.Lock()
	defer c.mu.Unlock()
	if old != nil && old.a.addr == b.a.addr {
		c.st.Renewals++
	} else {
		c.log.Info("DHCPv6 address bound", "link", link, "address", b.a.addr, "valid", b.a.valid)
		c.st.Acquired = b.at
	}
	c.st.Address, c.st.State, c.st.LastError = b.a.addr, "bound", ""
	c.st.Server = hex.EncodeToString(b.server.ToBytes())
	c.st.Renew, c.st.Rebind, c.st.Expiry = b.renewAt(), b.rebindAt(), b.expiry()
}

// drop removes the bound address.
func (c *dhcp6Client) drop(state, why string) {
	c.cur = nil
	if err := c.m.putV6(c.k, v6Addr{}); err != nil {
		c.log.Warn("DHCPv6 address not removed", "err", err)
	}
	c.mu.Lock()
	c.st.Address, c.st.State, c.st.LastError = netip.Prefix{}, state, why
	c.mu.Unlock()
}

func (c *dhcp6Client) setState(s string) {
	c.mu.Lock()
	c.st.State = s
	c.mu.Unlock()
}

// client opens a DHCPv6 client socket on link. It is bound to the
// link's link-local address, which is unusable while the kernel checks
// it for duplicates (about a second after the link comes up): an
// exchange then fails and is retried.
func (c *dhcp6Client) client(link string, timeout time.Duration, tries int) (*nclient6.Client, error) {
	var nc *nclient6.Client
	err := c.m.ns.Do(func() (err error) {
		linksock.RefreshZones() // nclient6 binds with the link's name as the zone
		nc, err = nclient6.New(link, nclient6.WithTimeout(timeout), nclient6.WithRetry(tries))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("DHCPv6 client on %s: %w", link, err)
	}
	return nc, nil
}

func (c *dhcp6Client) duid() dhcpv6.DUID {
	return &dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: c.mac}
}

// exchange is one Solicit/Advertise/Request/Reply on link: a new
// binding.
func (c *dhcp6Client) exchange(ctx context.Context, link string) (*binding6, error) {
	nc, err := c.client(link, 2*time.Second, 2)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	mods := []dhcpv6.Modifier{dhcpv6.WithClientID(c.duid()), dhcpv6.WithIAID(iaid(c.mac))}
	adv, err := nc.Solicit(ctx, mods...)
	if err != nil {
		return nil, fmt.Errorf("solicit: %w", err)
	}
	reply, err := nc.Request(ctx, adv, mods...)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	return bindingOf(reply, link)
}

// extend asks for b to be extended: a Renew naming its server, or from
// T2 a Rebind any server may answer (RFC 8415 18.2.4, 18.2.5).
func (c *dhcp6Client) extend(ctx context.Context, link string, b *binding6, rebind bool) (*binding6, error) {
	nc, err := c.client(link, 2*time.Second, 2)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	msg, err := c.message(b, dhcpv6.MessageTypeRenew)
	if err != nil {
		return nil, err
	}
	if rebind {
		msg.MessageType = dhcpv6.MessageTypeRebind
		msg.Options.Del(dhcpv6.OptionServerID)
	}
	reply, err := nc.SendAndRead(ctx, nc.RemoteAddr(), msg, nclient6.IsMessageType(dhcpv6.MessageTypeReply))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", msg.MessageType, err)
	}
	nb, err := bindingOf(reply, link)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", msg.MessageType, err)
	}
	return nb, nil
}

// release gives b back to its server (RFC 8415 18.2.7), waiting a second
// for the answer: the box is shutting down or stops using DHCPv6.
func (c *dhcp6Client) release(link string, b *binding6) error {
	nc, err := c.client(link, time.Second, 1)
	if err != nil {
		return err
	}
	defer nc.Close()
	msg, err := c.message(b, dhcpv6.MessageTypeRelease)
	if err != nil {
		return err
	}
	_, err = nc.SendAndRead(context.Background(), nc.RemoteAddr(), msg, nclient6.IsMessageType(dhcpv6.MessageTypeReply))
	return err
}

// message is a Renew or Release naming b: the client, the server and
// the IA with its address.
func (c *dhcp6Client) message(b *binding6, t dhcpv6.MessageType) (*dhcpv6.Message, error) {
	msg, err := dhcpv6.NewMessage()
	if err != nil {
		return nil, err
	}
	msg.MessageType = t
	msg.AddOption(dhcpv6.OptClientID(c.duid()))
	msg.AddOption(dhcpv6.OptServerID(b.server))
	msg.AddOption(dhcpv6.OptElapsedTime(0))
	msg.AddOption(&dhcpv6.OptIANA{IaId: b.iaid, Options: dhcpv6.IdentityOptions{Options: dhcpv6.Options{
		&dhcpv6.OptIAAddress{IPv6Addr: net.IP(b.a.addr.Addr().AsSlice())}}}})
	return msg, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func iaid(mac net.HardwareAddr) [4]byte {
	var id [4]byte
	if len(mac) >= 4 {
		copy(id[:], mac[len(mac)-4:])
	}
	return id
}

// errNoBinding is a server's answer that the box's binding is gone:
// the client starts over with a Solicit.
var errNoBinding = errors.New("no binding")

// minT1 bounds how often a server can have the client renew.
const minT1 = time.Second

// bindingOf reads the binding from a server's reply; what the server
// sent is checked before it reaches the kernel.
func bindingOf(reply *dhcpv6.Message, link string) (*binding6, error) {
	at := time.Now()
	if reply.MessageType != dhcpv6.MessageTypeReply {
		return nil, fmt.Errorf("answer %s, want a reply", reply.MessageType)
	}
	if s := reply.Options.Status(); s != nil && s.StatusCode != iana.StatusSuccess {
		return nil, fmt.Errorf("server: %s", s)
	}
	server := reply.Options.ServerID()
	if server == nil {
		return nil, errors.New("reply without a server identifier")
	}
	ia := reply.Options.OneIANA()
	if ia == nil {
		return nil, errors.New("reply without an address (IA_NA)")
	}
	if s := ia.Options.Status(); s != nil && s.StatusCode != iana.StatusSuccess {
		if s.StatusCode == iana.StatusNoBinding {
			return nil, fmt.Errorf("server: %s: %w", s, errNoBinding)
		}
		return nil, fmt.Errorf("server: %s", s)
	}
	o := ia.Options.OneAddress()
	if o == nil {
		return nil, errors.New("reply without an address in its IA_NA")
	}
	a, ok := netip.AddrFromSlice(o.IPv6Addr)
	if !ok || !a.Is6() || a.Is4In6() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() || a.IsLoopback() {
		return nil, fmt.Errorf("server offered %v, not a global unicast IPv6 address", o.IPv6Addr)
	}
	valid, preferred := o.ValidLifetime, o.PreferredLifetime
	if valid <= 0 {
		// RFC 8415 18.2.10.1: a valid lifetime of 0 withdraws it.
		return nil, fmt.Errorf("server withdrew %s: %w", a, errNoBinding)
	}
	valid = min(valid, 30*24*time.Hour)
	preferred = min(max(preferred, 0), valid)
	// RFC 8415 21.4: T1 after T2 makes the IA invalid; 0 leaves the
	// times to the client, which takes RFC 8415's suggested 0.5 and 0.8
	// of the preferred lifetime.
	t1, t2 := ia.T1, ia.T2
	if t1 > 0 && t2 > 0 && t1 > t2 {
		return nil, fmt.Errorf("server's T1 %v after its T2 %v", t1, t2)
	}
	base := preferred
	if base <= 0 {
		base = valid
	}
	if t1 <= 0 {
		t1 = base / 2
	}
	if t2 <= 0 {
		t2 = base * 4 / 5
	}
	t1 = min(max(t1, minT1), valid, 24*time.Hour)
	t2 = min(max(t2, t1), valid)
	return &binding6{
		a:      v6Addr{link: link, addr: netip.PrefixFrom(a, 128), valid: valid, preferred: preferred},
		server: server, iaid: ia.IaId, at: at, t1: t1, t2: t2,
	}, nil
}
