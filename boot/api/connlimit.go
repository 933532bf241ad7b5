package api

import (
	"container/list"
	"context"
	"net"
	"sync"
	"time"
)

// connLimiter wraps the TCP listener under TLS. It holds at most max
// connections, and at most maxUnauth of them that have not yet carried a
// request that passed the token check. Anyone who reaches the port can
// open connections, but only someone with the token can keep more than
// maxUnauth of them: the descriptors PID 1 needs for QEMU, DHCP and
// containers are never all spent on strangers.
//
// When a new connection would pass a cap, the oldest unauthenticated
// connection is closed to make room: a flood of idle or trickling
// connections then keeps cycling itself out, and a client with the token
// still gets through, because its connection only needs to live for the
// one request that authenticates it. Only when every held connection is
// authenticated is the new one refused (closed at once).
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
		if e := cl.unauth.Front(); e != nil {
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
