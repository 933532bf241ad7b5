package ntpd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

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
	want := map[Listener]bool{}
	for _, l := range spec.Listen {
		want[l] = true
	}
	for l, ln := range s.listeners {
		// A link deleted and made again has a new index, and a socket
		// bound to the old one hears nothing: bind again.
		if !want[l] || linkIndex(l.Interface) != ln.index {
			ln.stop()
			delete(s.listeners, l)
		}
	}
	var errs []error
	for l := range want {
		if s.listeners[l] != nil {
			continue
		}
		ln, err := s.start(l)
		if err != nil {
			errs = append(errs, fmt.Errorf("ntp on %s %s: %w", l.Interface, l.Address.Addr(), err))
			continue
		}
		s.listeners[l] = ln
	}
	return errors.Join(errs...)
}

// control binds a socket to iface, so that it sees only what arrives
// there.
func control(iface string) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if iface != "" {
				serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, iface)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}

// linkIndex is the index of the link named name, 0 when there is none
// or no name.
func linkIndex(name string) int {
	if name == "" {
		return 0
	}
	if ifc, err := net.InterfaceByName(name); err == nil {
		return ifc.Index
	}
	return 0
}

func (s *Server) start(l Listener) (*listener, error) {
	lc := net.ListenConfig{Control: control(l.Interface)}
	addr := netip.AddrPortFrom(l.Address.Addr(), uint16(s.o.Port)).String()
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := lc.ListenPacket(ctx, "udp4", addr)
	if err != nil {
		cancel()
		return nil, err
	}
	ln := &listener{index: linkIndex(l.Interface), cancel: cancel, conn: conn}
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
		if !ok || !sub.Contains(src.AddrPort().Addr().Unmap()) {
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

func (ln *listener) stop() {
	ln.cancel()
	ln.conn.Close()
}

// Close stops every listener.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for l, ln := range s.listeners {
		ln.stop()
		delete(s.listeners, l)
	}
}

// Answered counts the replies sent.
func (s *Server) Answered() int64 { return s.answered.Load() }

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
