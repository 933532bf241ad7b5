package api

import (
	"container/list"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// connLimiter wraps the TCP listener under TLS. It holds at most max
// connections, and at most maxUnauth of them that have not yet carried a
// request that passed the token check. Anyone who reaches the port can
// open connections, but only someone with the token can keep more than
// maxUnauth of them: the descriptors PID 1 needs for QEMU, DHCP and
// containers are never all spent on strangers.
//
// When a new connection would pass a cap, an unauthenticated connection
// is closed to make room: the oldest that has not sent a byte yet, else
// the oldest. A flood of idle or trickling connections then keeps cycling
// itself out, and a client with the token still gets through, because its
// connection only needs to live for the one request that authenticates
// it. Silent connections go first because a client starts its TLS
// handshake at once: under a flood that arrives faster than the box
// completes a handshake (a slow box, or many connections), closing the
// oldest alone would close every client mid-handshake. Only when every
// held connection is authenticated is the new one refused (closed at
// once).
type connLimiter struct {
	net.Listener
	max, maxUnauth int
	logf           func(string, ...any)

	mu      sync.Mutex
	total   int
	unauth  list.List // *limitedConn, oldest first
	dropped int       // connections closed for a cap since the last log line
	logged  time.Time
}

func newConnLimiter(l net.Listener, max, maxUnauth int, logf func(string, ...any)) *connLimiter {
	return &connLimiter{Listener: l, max: max, maxUnauth: min(maxUnauth, max), logf: logf}
}

func (cl *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := cl.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc, victim := cl.admit(c)
		if victim != nil {
			victim.Conn.Close()
		}
		if lc == nil {
			c.Close()
			continue
		}
		return lc, nil
	}
}

// admit counts c in, choosing an unauthenticated connection to close
// when a cap is reached; it returns nil when c itself must be refused.
func (cl *connLimiter) admit(c net.Conn) (lc, victim *limitedConn) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.total >= cl.max || cl.unauth.Len() >= cl.maxUnauth {
		if e := cl.evictable(); e != nil {
			victim = cl.unauth.Remove(e).(*limitedConn)
			victim.elem = nil
			victim.counted = false
			cl.total--
		}
		cl.dropped++
		cl.logDropped()
		if cl.total >= cl.max || cl.unauth.Len() >= cl.maxUnauth {
			return nil, victim
		}
	}
	lc = &limitedConn{Conn: c, cl: cl, counted: true}
	lc.elem = cl.unauth.PushBack(lc)
	cl.total++
	return lc, victim
}

// evictable is the unauthenticated connection to close for a new one:
// the oldest that has not spoken, else the oldest.
func (cl *connLimiter) evictable() *list.Element {
	for e := cl.unauth.Front(); e != nil; e = e.Next() {
		if !e.Value.(*limitedConn).hasSpoken() {
			return e
		}
	}
	return cl.unauth.Front()
}

// logDropped reports connections closed for a cap at most once a minute,
// so that a flood does not flood the log too.
func (cl *connLimiter) logDropped() {
	if time.Since(cl.logged) < time.Minute {
		return
	}
	cl.logf("api: connection limit reached (%d connections, %d without a token allowed): %d closed since the last report",
		cl.max, cl.maxUnauth, cl.dropped)
	cl.logged, cl.dropped = time.Now(), 0
}

// authenticated moves lc out of the unauthenticated connections.
func (cl *connLimiter) authenticated(lc *limitedConn) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if lc.elem != nil {
		cl.unauth.Remove(lc.elem)
		lc.elem = nil
	}
}

func (cl *connLimiter) release(lc *limitedConn) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if !lc.counted {
		return
	}
	lc.counted = false
	cl.total--
	if lc.elem != nil {
		cl.unauth.Remove(lc.elem)
		lc.elem = nil
	}
}

// counts returns the connections held and how many of them have not
// authenticated.
func (cl *connLimiter) counts() (total, unauth int) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.total, cl.unauth.Len()
}

// limitedConn is a connection the limiter counts until it is closed.
type limitedConn struct {
	net.Conn
	cl      *connLimiter
	elem    *list.Element // in cl.unauth while unauthenticated; guarded by cl.mu
	counted bool          // guarded by cl.mu
	spoke   atomic.Bool   // the client has sent a byte
}

// hasSpoken tells whether the client sent anything: read already, or
// waiting in the socket's receive queue (the server may not have got to
// reading a new connection yet).
func (c *limitedConn) hasSpoken() bool {
	if c.spoke.Load() {
		return true
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	queued := 0
	rc.Control(func(fd uintptr) { queued, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
	if queued > 0 {
		c.spoke.Store(true)
	}
	return queued > 0
}

func (c *limitedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.spoke.Load() {
		c.spoke.Store(true)
	}
	return n, err
}

func (c *limitedConn) Close() error {
	c.cl.release(c)
	return c.Conn.Close()
}

type limitedConnKey struct{}

// withLimitedConn remembers in a connection's context the limitedConn
// beneath it (under TLS), so that a request can mark it authenticated.
func withLimitedConn(ctx context.Context, c net.Conn) context.Context {
	for c != nil {
		if lc, ok := c.(*limitedConn); ok {
			return context.WithValue(ctx, limitedConnKey{}, lc)
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	return ctx
}

// markAuthenticated takes the request's connection out of the
// unauthenticated ones; a no-op on connections without a limiter.
func markAuthenticated(ctx context.Context) {
	if lc, ok := ctx.Value(limitedConnKey{}).(*limitedConn); ok {
		lc.cl.authenticated(lc)
	}
}

// tcpConns returns the TCP connections the server holds and how many of
// them have not authenticated.
func (s *Server) tcpConns() (total, unauth int) {
	s.mu.Lock()
	ls := s.limiters
	s.mu.Unlock()
	for _, cl := range ls {
		t, u := cl.counts()
		total, unauth = total+t, unauth+u
	}
	return total, unauth
}
