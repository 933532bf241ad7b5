package radvd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"

	"github.com/nucbox/nucbox/internal/linksock"
	"github.com/nucbox/nucbox/internal/safe"
)

// Options configure a Server.
type Options struct {
	// Logf prints one line of the box's log.
	Logf func(format string, args ...any)
	// Do runs f where the sockets are to be made (a test's network
	// namespace); nil makes them in the caller's.
	Do func(f func() error) error
	// Interval replaces Interval (tests).
	Interval time.Duration
}

// Server advertises on every link of its Spec.
type Server struct {
	o       Options
	mu      sync.Mutex
	running map[string]*runner // by interface
}

// runner is the loop advertising on one link.
type runner struct {
	link   Link
	index  int // the link's index when the loop started
	cancel context.CancelFunc
	done   <-chan struct{}
	mu     sync.Mutex
	conn   *ndp.Conn
	sent   int // adverts sent (tests)
}

// New makes a server that advertises nothing until Apply.
func New(o Options) *Server {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Do == nil {
		o.Do = func(f func() error) error { return f() }
	}
	if o.Interval <= 0 {
		o.Interval = Interval
	}
	return &Server{o: o, running: map[string]*runner{}}
}

// Apply advertises spec: a link whose settings and interface did not
// change keeps its loop; others are stopped or started (a started loop
// advertises at once, so a changed prefix reaches workloads at once).
func (s *Server) Apply(spec Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[string]Link{}
	for _, l := range spec.Links {
		want[l.Interface] = l
	}
	for name, r := range s.running {
		l, ok := want[name]
		// A link deleted and made again has a new index, and a socket
		// bound to the old one hears nothing: start again.
		if !ok || !sameLink(l, r.link) || s.linkIndex(name) != r.index {
			r.stop()
			delete(s.running, name)
		}
	}
	for name, l := range want {
		if s.running[name] == nil {
			s.running[name] = s.start(l)
		}
	}
	return nil
}

func sameLink(a, b Link) bool {
	return a.VLAN == b.VLAN && a.Prefix == b.Prefix && a.MTU == b.MTU && slices.Equal(a.DNS, b.DNS)
}

func (s *Server) linkIndex(name string) int {
	idx := 0
	s.o.Do(func() error {
		if ifc, err := net.InterfaceByName(name); err == nil {
			idx = ifc.Index
		}
		return nil
	})
	return idx
}

func (s *Server) start(l Link) *runner {
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{link: l, index: s.linkIndex(l.Interface), cancel: cancel}
	name := fmt.Sprintf("router adverts on %s", l.Interface)
	r.done = safe.Loop(ctx, s.o.Logf, name, safe.DefaultBackoff, func(ctx context.Context) error {
		return s.run(ctx, r)
	})
	return r
}

// linkLocalWait bounds the wait for the link's link-local address, which
// the kernel makes when the link comes up and which duplicate address
// detection keeps unusable for a second or two.
const linkLocalWait = 15 * time.Second

// open makes the link's socket once its link-local address is usable.
func (s *Server) open(ctx context.Context, r *runner) (*ndp.Conn, net.HardwareAddr, error) {
	deadline := time.Now().Add(linkLocalWait)
	for {
		var c *ndp.Conn
		var mac net.HardwareAddr
		err := s.o.Do(func() error {
			ifi, err := net.InterfaceByName(r.link.Interface)
			if err != nil {
				return err
			}
			mac = ifi.HardwareAddr
			c, err = ListenSolicitations(ifi)
			return err
		})
		if err == nil {
			return c, mac, nil
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("no usable link-local address after %s: %w", linkLocalWait, err)
		}
		select {
		case <-ctx.Done():
			return nil, nil, nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ListenSolicitations opens an NDP socket on ifi, from its link-local
// address, that hears router solicitations only: they go to all routers,
// a group only forwarding links join by themselves. It runs in ifi's
// network namespace. ndp binds and writes with the link's name as the
// zone, so the zone caches are refreshed first (linksock.RefreshZones).
func ListenSolicitations(ifi *net.Interface) (*ndp.Conn, error) {
	linksock.RefreshZones()
	c, _, err := ndp.Listen(ifi, ndp.LinkLocal)
	if err != nil {
		return nil, err
	}
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeRouterSolicitation)
	if err := c.SetICMPFilter(&f); err != nil {
		c.Close()
		return nil, fmt.Errorf("icmp filter: %w", err)
	}
	if err := c.JoinGroup(netip.IPv6LinkLocalAllRouters()); err != nil {
		c.Close()
		return nil, fmt.Errorf("join all-routers: %w", err)
	}
	return c, nil
}

// run advertises until ctx ends or the socket fails.
func (s *Server) run(ctx context.Context, r *runner) error {
	c, mac, err := s.open(ctx, r)
	if err != nil || c == nil {
		return err
	}
	r.mu.Lock()
	if ctx.Err() != nil {
		r.mu.Unlock()
		c.Close()
		return nil
	}
	r.conn = c
	r.mu.Unlock()
	defer r.drop(c)

	ra := Advert(r.link, mac)
	send := func() error {
		if err := c.WriteTo(ra, nil, netip.IPv6LinkLocalAllNodes()); err != nil {
			return fmt.Errorf("send advert: %w", err)
		}
		r.mu.Lock()
		r.sent++
		r.mu.Unlock()
		return nil
	}
	if err := send(); err != nil {
		return err
	}
	last, sent := time.Now(), 1
	next := last.Add(min(initialInterval, s.o.Interval))
	buf := make([]byte, 1500)
	for {
		c.SetReadDeadline(next)
		n, _, _, err := c.ReadRaw(buf)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, os.ErrDeadlineExceeded):
		case err != nil:
			return err
		default:
			m, perr := ndp.ParseMessage(buf[:n])
			if _, ok := m.(*ndp.RouterSolicitation); perr != nil || !ok {
				continue
			}
			// Answer at once, to all nodes, at most once a second: a
			// flood of solicitations makes no flood of adverts.
			if soon := last.Add(time.Second); soon.Before(next) {
				next = soon
			}
			if time.Now().Before(next) {
				continue
			}
		}
		if err := send(); err != nil {
			return err
		}
		last, sent = time.Now(), sent+1
		next = last.Add(s.o.Interval)
		if sent < initialAdverts {
			next = last.Add(min(initialInterval, s.o.Interval))
		}
	}
}

// drop closes the loop's socket.
func (r *runner) drop(c *ndp.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.Close()
	if r.conn == c {
		r.conn = nil
	}
}

// stop ends the loop: closing the socket wakes a read.
func (r *runner) stop() {
	r.cancel()
	r.mu.Lock()
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
	r.mu.Unlock()
	<-r.done
}

// Close stops every link's adverts.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, r := range s.running {
		r.stop()
		delete(s.running, name)
	}
}

// Sent is the number of adverts sent on iface since its loop started.
func (s *Server) Sent(iface string) int {
	s.mu.Lock()
	r := s.running[iface]
	s.mu.Unlock()
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent
}
