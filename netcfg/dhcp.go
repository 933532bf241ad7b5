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

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/internal/inject"
	"github.com/nucbox/nucbox/internal/safe"
)

// dhcpClient keeps one DHCPv4 lease alive on one link: it acquires a
// lease, applies it (address, default route, DNS), renews at T1, rebinds
// at T2 and drops the address at expiry. Its identity (client identifier
// 0x01+MAC, hostname) does not depend on the link, so after the takeover
// it carries on with the same lease on the bridge, which has the uplink's
// MAC.
type dhcpClient struct {
	m        *Manager
	k        kernel
	changes  atomic.Int64
	clientID []byte
	log      *slog.Logger

	mu       sync.Mutex
	hostname string
	link     string
	nc       *nclient4.Client
	lease    *nclient4.Lease
	st       Lease
	bound    chan struct{} // closed once a lease is applied
	cancel   context.CancelFunc
	done     <-chan struct{}
}

func newDHCPClient(m *Manager, hostname string, mac net.HardwareAddr) *dhcpClient {
	c := &dhcpClient{
		m:        m,
		clientID: append([]byte{1}, mac...), // type 1: Ethernet, RFC 2132 9.14
		hostname: hostname,
		log:      m.log.With("dhcp", "v4"),
		bound:    make(chan struct{}),
		st:       Lease{State: "stopped"},
	}
	c.k = kernel{h: m.h, n: &c.changes}
	return c
}

func (c *dhcpClient) modifiers() []dhcpv4.Modifier {
	c.mu.Lock()
	host := c.hostname
	c.mu.Unlock()
	mods := []dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier(c.clientID)),
		dhcpv4.WithRequestedOptions(
			dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer,
			dhcpv4.OptionDomainName, dhcpv4.OptionDNSDomainSearchList, dhcpv4.OptionIPAddressLeaseTime,
			dhcpv4.OptionRenewTimeValue, dhcpv4.OptionRebindingTimeValue, dhcpv4.OptionNTPServers),
	}
	if host != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptHostName(host)))
	}
	return mods
}

// start runs the client on link, continuing with the current lease when
// there is one (the takeover and its rollback restart the client on the
// other link). The packet socket is opened inside the box's namespace.
func (c *dhcpClient) start(link string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		return fmt.Errorf("DHCP client already running on %s", c.link)
	}
	var nc *nclient4.Client
	err := c.m.ns.Do(func() (err error) {
		// RFC 2131 4.1: first retransmission after 4 s. Shorter loses
		// offers from servers that ping an address before offering it
		// (dnsmasq defers such offers by up to 3 s).
		nc, err = nclient4.New(link, nclient4.WithTimeout(4*time.Second), nclient4.WithRetry(2))
		return err
	})
	if err != nil {
		return fmt.Errorf("DHCP client on %s: %w", link, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.link, c.nc, c.cancel = link, nc, cancel
	c.st.Link, c.st.State = link, "bound"
	if c.lease == nil {
		c.st.State = "init"
	}
	// A panic (a malformed packet the library trips on) restarts the
	// loop with the lease it holds.
	c.done = safe.Loop(ctx, safe.Slog(c.log), "dhcp client on "+link, safe.DefaultBackoff, func(ctx context.Context) error {
		c.run(ctx, nc)
		return nil
	})
	return nil
}

// stop ends the client. With release it gives the lease back to the
// server and removes the address and route it applied.
func (c *dhcpClient) stop(release bool) {
	c.mu.Lock()
	cancel, done, nc, lease, link := c.cancel, c.done, c.nc, c.lease, c.link
	c.cancel = nil
	c.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	if release && lease != nil {
		if err := c.release(lease); err != nil {
			c.log.Warn("DHCP release failed", "err", err)
		}
		c.unapply(link, lease)
		c.m.leaseChanged(nil)
		c.mu.Lock()
		c.lease = nil
		c.bound = make(chan struct{})
		c.mu.Unlock()
	}
	nc.Close()
	c.mu.Lock()
	c.st.State = "stopped"
	c.mu.Unlock()
}

// release gives the lease back. It goes from the leased address through
// an ordinary UDP socket: sent like the other messages, from 0.0.0.0 on
// the packet socket, a unicast datagram is a martian to the server's
// kernel and never reaches a server that uses UDP sockets.
func (c *dhcpClient) release(lease *nclient4.Lease) error {
	msg, err := dhcpv4.NewReleaseFromACK(lease.ACK, c.modifiers()...)
	if err != nil {
		return err
	}
	var conn *net.UDPConn
	err = c.m.ns.Do(func() (err error) {
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: lease.ACK.YourIPAddr, Port: nclient4.ClientPort})
		return err
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.WriteToUDP(msg.ToBytes(), &net.UDPAddr{IP: lease.ACK.ServerIdentifier(), Port: nclient4.ServerPort})
	return err
}

// wait blocks until a lease is applied.
func (c *dhcpClient) wait(ctx context.Context) error {
	c.mu.Lock()
	bound := c.bound
	c.mu.Unlock()
	select {
	case <-bound:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		last := c.st.LastError
		c.mu.Unlock()
		if last != "" {
			return fmt.Errorf("no DHCP lease yet (last error: %s): %w", last, ctx.Err())
		}
		return fmt.Errorf("no DHCP lease yet: %w", ctx.Err())
	}
}

func (c *dhcpClient) status() *Lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lease == nil && c.st.State == "stopped" {
		return nil
	}
	l := c.st
	return &l
}

func (c *dhcpClient) current() *nclient4.Lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lease
}

func (c *dhcpClient) setState(s string) {
	c.mu.Lock()
	c.st.State = s
	c.mu.Unlock()
}

func (c *dhcpClient) setError(err error) {
	c.mu.Lock()
	c.st.LastError = err.Error()
	c.mu.Unlock()
	c.log.Warn("DHCP exchange failed", "err", err)
}

func (c *dhcpClient) run(ctx context.Context, nc *nclient4.Client) {
	backoff := time.Second
	for ctx.Err() == nil {
		lease := c.current()
		if lease == nil {
			c.setState("init")
			l, err := nc.Request(ctx, c.modifiers()...)
			if err != nil {
				if ctx.Err() == nil {
					c.setError(err)
					sleep(ctx, backoff)
					backoff = min(2*backoff, 30*time.Second)
				}
				continue
			}
			backoff = time.Second
			c.bind(l, "acquired")
			continue
		}
		t := c.times(lease)
		if t.T1.IsZero() {
			<-ctx.Done() // infinite lease
			return
		}
		c.setState("bound")
		if !sleepUntil(ctx, t.T1) {
			return
		}
		inject.Point("dhcp.renew")
		if c.extend(ctx, nc, lease, t.T2, false) || ctx.Err() != nil {
			continue
		}
		if c.extend(ctx, nc, lease, t.Expiry, true) || ctx.Err() != nil {
			continue
		}
		c.log.Warn("DHCP lease expired", "address", c.status().Address)
		c.drop(lease)
	}
}

// extend renews (unicast semantics, the leasing server only) or rebinds
// (any server) until deadline; it reports whether the lease state changed
// (extended, or dropped after a NAK).
func (c *dhcpClient) extend(ctx context.Context, nc *nclient4.Client, lease *nclient4.Lease, deadline time.Time, rebind bool) bool {
	state := "renewing"
	if rebind {
		state = "rebinding"
	}
	c.setState(state)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		next := retryAt(time.Now(), deadline)
		rctx, cancel := context.WithDeadline(ctx, next)
		l, err := c.renew(rctx, nc, lease, rebind)
		cancel()
		var nak *nclient4.ErrNak
		switch {
		case err == nil:
			c.bind(l, state)
			return true
		case errors.As(err, &nak):
			c.log.Warn("DHCP server refused the lease", "state", state, "msg", nak.Nak.Message())
			c.drop(lease)
			return true
		case ctx.Err() != nil:
			return false
		}
		c.setError(err)
		sleepUntil(ctx, next)
	}
	return false
}

func (c *dhcpClient) renew(ctx context.Context, nc *nclient4.Client, lease *nclient4.Lease, rebind bool) (*nclient4.Lease, error) {
	if !rebind {
		return nc.Renew(ctx, lease, c.modifiers()...)
	}
	req, err := dhcpv4.NewRenewFromAck(lease.ACK, c.modifiers()...)
	if err != nil {
		return nil, err
	}
	resp, err := nc.SendAndRead(ctx, nc.RemoteAddr(), req,
		nclient4.IsMessageType(dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak))
	if err != nil {
		return nil, err
	}
	if resp.MessageType() == dhcpv4.MessageTypeNak {
		return nil, &nclient4.ErrNak{Offer: lease.Offer, Nak: resp}
	}
	// A different server may answer a rebind; later renewals go to it.
	return &nclient4.Lease{Offer: resp, ACK: resp, CreationTime: time.Now()}, nil
}

func (c *dhcpClient) times(l *nclient4.Lease) leaseTimes {
	ack := l.ACK
	return computeLeaseTimes(l.CreationTime, ack.IPAddressLeaseTime(0),
		ack.IPAddressRenewalTime(0), ack.IPAddressRebindingTime(0))
}

// bind records a new or extended lease and applies it to the link.
func (c *dhcpClient) bind(l *nclient4.Lease, how string) {
	st, dropped := leaseOf(l)
	if len(dropped) > 0 {
		c.log.Warn("DHCP: ignoring names that are not valid DNS names", "names", fmt.Sprintf("%q", dropped))
	}
	c.mu.Lock()
	st.Link, st.Renewals, st.Rebinds = c.link, c.st.Renewals, c.st.Rebinds
	switch how {
	case "renewing":
		st.Renewals++
	case "rebinding":
		st.Rebinds++
	}
	c.lease, c.st = l, st
	link, bound := c.link, c.bound
	c.mu.Unlock()
	if err := c.apply(link, st); err != nil {
		c.setError(err)
	}
	c.log.Info("DHCP lease "+how, "link", link, "address", st.Address, "router", st.Router,
		"server", st.Server, "t1", time.Until(st.T1).Round(time.Second), "expiry", time.Until(st.Expiry).Round(time.Second))
	c.m.leaseChanged(&st)
	select {
	case <-bound:
	default:
		close(bound)
	}
}

// leaseOf is what the box takes from a server's ACK, anyone's packet on
// the link: names that are not valid DNS names are dropped (and
// returned), never passed on to resolv.conf or the hostname.
func leaseOf(l *nclient4.Lease) (st Lease, dropped []string) {
	ack := l.ACK
	t := computeLeaseTimes(l.CreationTime, ack.IPAddressLeaseTime(0),
		ack.IPAddressRenewalTime(0), ack.IPAddressRebindingTime(0))
	mask := ack.SubnetMask()
	if mask == nil {
		mask = ack.YourIPAddr.DefaultMask()
	}
	ones, _ := mask.Size()
	var search []string
	if l := ack.DomainSearch(); l != nil {
		search = l.Labels
	}
	domain, host, dropped := leaseNames(search, ack.DomainName(), ack.HostName())
	st = Lease{
		Address:  netip.PrefixFrom(addrOf(ack.YourIPAddr), ones),
		Server:   addrOf(ack.ServerIdentifier()),
		Domain:   domain,
		Hostname: host,
		Acquired: l.CreationTime,
		T1:       t.T1, T2: t.T2, Expiry: t.Expiry,
		State: "bound",
	}
	if rs := ack.Router(); len(rs) > 0 {
		st.Router = addrOf(rs[0])
	}
	for _, d := range ack.DNS() {
		st.DNS = append(st.DNS, addrOf(d))
	}
	for _, d := range ack.NTPServers() {
		st.NTP = append(st.NTP, addrOf(d))
	}
	return st, dropped
}

func (c *dhcpClient) apply(link string, st Lease) error {
	l, err := c.k.link(link)
	if err != nil {
		return err
	}
	a := netlink.Addr{IPNet: ipNet(st.Address)}
	if !st.Expiry.IsZero() {
		// The kernel drops the address at expiry by itself should the
		// client ever stall.
		secs := int(time.Until(st.Expiry).Seconds())
		a.ValidLft, a.PreferedLft = max(secs, 1), max(secs, 1)
	}
	if err := c.k.ensureOnly(l, a); err != nil {
		return err
	}
	return c.k.ensureDefault(l, st.Router, unix.RTPROT_DHCP)
}

// drop forgets a lease that expired or was refused and removes what it
// put on the link.
func (c *dhcpClient) drop(lease *nclient4.Lease) {
	c.mu.Lock()
	link := c.link
	c.lease = nil
	c.bound = make(chan struct{})
	c.st.State = "init"
	c.mu.Unlock()
	c.unapply(link, lease)
	c.m.leaseChanged(nil)
}

func (c *dhcpClient) unapply(link string, lease *nclient4.Lease) {
	l, err := c.k.link(link)
	if err != nil {
		return
	}
	addrs, _ := c.k.addrs(l)
	for _, a := range addrs {
		if a.IP.Equal(lease.ACK.YourIPAddr) {
			_ = c.k.addrDel(l, a)
		}
	}
	_ = c.k.ensureDefault(l, netip.Addr{}, unix.RTPROT_DHCP)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func sleepUntil(ctx context.Context, t time.Time) bool { return sleep(ctx, time.Until(t)) }
