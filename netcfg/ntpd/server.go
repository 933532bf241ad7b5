package ntpd

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nucbox/nucbox/internal/linksock"
	"github.com/nucbox/nucbox/internal/safe"
)

// Options configure a Server.
type Options struct {
	Logf func(format string, args ...any)
	// Upstream is what the box's NTP client knows now; nil answers as
	// never synced.
	Upstream func() Upstream
	// Port is 123 unless set (tests).
	Port int
	// Now is the box's clock; default time.Now.
	Now func() time.Time
}

// Server is the box's NTP server on every listener of its Spec.
type Server struct {
	o Options
	// answered counts the replies sent, for the log and tests.
	answered atomic.Int64

	mu        sync.Mutex
	listeners map[Listener]*listener
}

type listener struct {
	index  int // the link's index when the socket was bound
	cancel context.CancelFunc
	conn   net.PacketConn
}

// New makes a server that serves nothing until Apply.
func New(o Options) *Server {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Port == 0 {
		o.Port = 123
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Upstream == nil {
		o.Upstream = func() Upstream { return Upstream{} }
	}
	return &Server{o: o, listeners: map[Listener]*listener{}}
}

// Apply serves spec: listeners that did not change keep their sockets.
func (s *Server) Apply(spec Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return linksock.SyncListeners(s.listeners, spec.Listen, "ntp", s.start)
}

func (s *Server) start(l Listener) (*listener, error) {
	lc := net.ListenConfig{Control: linksock.Control(l.Interface)}
	addr := netip.AddrPortFrom(l.Address.Addr(), uint16(s.o.Port)).String()
	ctx, cancel := context.WithCancel(context.Background())
	network := "udp4"
	if l.Address.Addr().Is6() {
		network = "udp6"
	}
	conn, err := lc.ListenPacket(ctx, network, addr)
	if err != nil {
		cancel()
		return nil, err
	}
	ln := &listener{index: linksock.Index(l.Interface), cancel: cancel, conn: conn}
	sub := l.Address.Masked()
	safe.Loop(ctx, s.o.Logf, "ntp server on "+conn.LocalAddr().String(), safe.DefaultBackoff, func(ctx context.Context) error {
		return s.serve(ctx, conn, sub)
	})
	return ln, nil
}

// serve answers requests from inside sub until ctx ends.
func (s *Server) serve(ctx context.Context, conn net.PacketConn, sub netip.Prefix) error {
	buf := make([]byte, 512)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		recv := s.o.Now()
		src, ok := from.(*net.UDPAddr)
		if !ok || !fromLink(src.AddrPort().Addr(), sub) {
			continue
		}
		r := Reply(buf[:n], s.o.Upstream(), recv, s.o.Now())
		if r == nil {
			continue
		}
		if _, err := conn.WriteTo(r, from); err == nil {
			s.answered.Add(1)
		}
	}
}

// LinkIndex is the index of the link the sockets were bound to.
func (ln *listener) LinkIndex() int { return ln.index }

// Stop closes the sockets.
func (ln *listener) Stop() {
	ln.cancel()
	ln.conn.Close()
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

// Answered counts the replies sent.
func (s *Server) Answered() int64 { return s.answered.Load() }

// Serving are the listeners with a bound socket, sorted by address: what
// the box's status shows as its NTP server.
func (s *Server) Serving() []Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Listener, 0, len(s.listeners))
	for l := range s.listeners {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Listener) int { return a.Address.Addr().Compare(b.Address.Addr()) })
	return out
}

// Addr is where the listener for the box address a serves (tests).
func (s *Server) Addr(a netip.Addr) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	for l, ln := range s.listeners {
		if l.Address.Addr() == a {
			return ln.conn.LocalAddr()
		}
	}
	return nil
}

// fromLink tells whether src may ask at an address whose subnet is sub.
// The socket is bound to the VLAN's link, so an IPv6 link-local source is
// a client on that link (one whose global address is still being checked
// for duplicates sends from it).
func fromLink(src netip.Addr, sub netip.Prefix) bool {
	src = src.Unmap()
	if sub.Addr().Is6() && src.Is6() && src.IsLinkLocalUnicast() {
		return true
	}
	return sub.Contains(src.WithZone(""))
}
