package dnsd

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/nucbox/nucbox/internal/linksock"
	"github.com/nucbox/nucbox/internal/safe"
)

// workers bounds the queries answered at once over UDP.
const workers = 16

// Options configure a Server.
type Options struct {
	Logf func(format string, args ...any)
	// Lookup gives the addresses of a name the leases know (a label).
	Lookup func(name string) []netip.Addr
	// Upstreams are the resolvers other names are forwarded to.
	Upstreams func() []netip.Addr
	// Port is 53 unless set (tests).
	Port int
	// UpstreamPort is 53 unless set (tests).
	UpstreamPort int
	// Timeout bounds one upstream exchange (default 2s).
	Timeout time.Duration
	Now     func() time.Time
}

// Server is the box's DNS server on every listener of its Spec.
type Server struct {
	o   Options
	res *resolver
	sem chan struct{}

	mu        sync.Mutex
	listeners map[Listener]*listener
}

type listener struct {
	index  int // the link's index when the sockets were bound
	cancel context.CancelFunc
	udp    net.PacketConn
	tl     net.Listener
	tcp    *dns.Server
}

// New makes a server that serves nothing until Apply.
func New(o Options) *Server {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Port == 0 {
		o.Port = 53
	}
	if o.UpstreamPort == 0 {
		o.UpstreamPort = 53
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Upstreams == nil {
		o.Upstreams = func() []netip.Addr { return nil }
	}
	client := &dns.Client{Net: "udp", Timeout: o.Timeout}
	return &Server{
		o: o,
		res: &resolver{lookup: o.Lookup, upstreams: o.Upstreams, upPort: uint16(o.UpstreamPort), now: o.Now, cache: map[cacheKey]cached{},
			hosts: map[string][]netip.Addr{},
			exchange: func(m *dns.Msg, server string) (*dns.Msg, error) {
				r, _, err := client.Exchange(m, server)
				return r, err
			}},
		sem:       make(chan struct{}, workers),
		listeners: map[Listener]*listener{},
	}
}

// Apply serves spec: listeners that did not change keep their sockets,
// the names and the domain take effect at once.
func (s *Server) Apply(spec Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	hosts := map[string][]netip.Addr{}
	for _, h := range spec.Hosts {
		hosts[strings.ToLower(h.Name)] = append(hosts[strings.ToLower(h.Name)], h.Addresses...)
	}
	own := map[string][]netip.Addr{}
	for _, l := range spec.Listen {
		own[l.Interface] = append(own[l.Interface], l.Address.Addr())
	}
	s.res.mu.Lock()
	s.res.domain = strings.ToLower(spec.Domain) + "."
	s.res.hosts = hosts
	s.res.self, s.res.own = strings.ToLower(spec.Self), own
	s.res.mu.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	return linksock.SyncListeners(s.listeners, spec.Listen, "dns", s.start)
}

func (s *Server) start(l Listener) (*listener, error) {
	lc := net.ListenConfig{Control: linksock.Control(l.Interface)}
	addr := netip.AddrPortFrom(l.Address.Addr(), uint16(s.o.Port)).String()
	ctx, cancel := context.WithCancel(context.Background())
	udpNet, tcpNet := "udp4", "tcp4"
	if l.Address.Addr().Is6() {
		udpNet, tcpNet = "udp6", "tcp6"
	}
	udp, err := lc.ListenPacket(ctx, udpNet, addr)
	if err != nil {
		cancel()
		return nil, err
	}
	// TCP on the port UDP got (a test's port 0 picks one).
	addr = udp.LocalAddr().String()
	tl, err := lc.Listen(ctx, tcpNet, addr)
	if err != nil {
		cancel()
		udp.Close()
		return nil, err
	}
	sub := l.Address.Masked()
	ln := &listener{index: linksock.Index(l.Interface), cancel: cancel, udp: udp, tl: tl}
	ln.tcp = &dns.Server{Listener: tl, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		// miekg/dns runs this in a goroutine of its own, without recover.
		defer safe.Recover(s.o.Logf, "dns query over tcp")
		src, _ := netip.ParseAddrPort(w.RemoteAddr().String())
		w.WriteMsg(s.res.answer(req, src.Addr(), sub, l.Interface))
	}), ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	name := "dns server on " + addr
	safe.Loop(ctx, s.o.Logf, name+" (udp)", safe.DefaultBackoff, func(ctx context.Context) error {
		return s.serveUDP(ctx, udp, sub, l.Interface)
	})
	safe.Loop(ctx, s.o.Logf, name+" (tcp)", safe.DefaultBackoff, func(ctx context.Context) error {
		err := ln.tcp.ActivateAndServe()
		if ctx.Err() != nil {
			return nil
		}
		return err
	})
	return ln, nil
}

// serveUDP reads queries and hands each to a worker; with every worker
// busy the query is dropped and the client retries.
func (s *Server) serveUDP(ctx context.Context, conn net.PacketConn, sub netip.Prefix, link string) error {
	for {
		buf := make([]byte, 4096)
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case s.sem <- struct{}{}:
		default:
			continue
		}
		safe.Go(s.o.Logf, "dns query", func() {
			defer func() { <-s.sem }()
			req := new(dns.Msg)
			if req.Unpack(buf[:n]) != nil {
				return
			}
			src, _ := netip.ParseAddrPort(from.String())
			resp := s.res.answer(req, src.Addr(), sub, link)
			size := dns.MinMsgSize
			if o := req.IsEdns0(); o != nil {
				size = max(int(o.UDPSize()), dns.MinMsgSize)
			}
			resp.Truncate(size)
			if b, err := resp.Pack(); err == nil {
				conn.WriteTo(b, from)
			}
		})
	}
}

// LinkIndex is the index of the link the sockets were bound to.
func (ln *listener) LinkIndex() int { return ln.index }

// Stop closes the sockets.
func (ln *listener) Stop() {
	ln.cancel()
	ln.udp.Close()
	ln.tl.Close()
}

// Close stops every listener.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for l, ln := range s.listeners {
		ln.Stop()
		delete(s.listeners, l)
	}
}

// Addr is where the listener for the box address a serves UDP (tests).
func (s *Server) Addr(a netip.Addr) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	for l, ln := range s.listeners {
		if l.Address.Addr() == a {
			return ln.udp.LocalAddr()
		}
	}
	return nil
}
