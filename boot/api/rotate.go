package api

import (
	"context"
	"crypto/sha256"
	"net"
	"net/http"
	"time"
)

// Auth is who the TCP API lets in. SetAuth changes it on a running
// server, for a config applied live.
type Auth struct {
	// Token is the bearer token; empty leaves TCP with the public
	// endpoints only.
	Token string
	// PublicStatus serves the status, the page and the metrics without a
	// token (api.public-status).
	PublicStatus bool
	// SessionLifetime and SessionIdle end a web login; zero takes
	// DefaultSessionLifetime and DefaultSessionIdle.
	SessionLifetime, SessionIdle time.Duration
}

func (a *Auth) key() [32]byte { return sha256.Sum256([]byte(a.Token)) }

func (a *Auth) sessionLifetime() time.Duration {
	if a.SessionLifetime > 0 {
		return a.SessionLifetime
	}
	return DefaultSessionLifetime
}

func (a *Auth) sessionIdle() time.Duration {
	if a.SessionIdle > 0 {
		return a.SessionIdle
	}
	return DefaultSessionIdle
}

func (s *Server) currentAuth() *Auth { return s.auth.Load() }

// SetAuth makes a the server's auth from the next request on. When the
// token changes, the sessions made with the old one end and so do the
// streams (followed logs, consoles) opened with it: rotating a leaked
// token must shut out whoever holds it, including a console they keep
// open.
func (s *Server) SetAuth(a Auth) {
	s.mu.Lock()
	old := s.auth.Swap(&a)
	var ended []*stream
	if old == nil || !tokenMatches(a.Token, old.Token) {
		for st := range s.streams {
			delete(s.streams, st)
			ended = append(ended, st)
		}
	}
	s.mu.Unlock()
	if old != nil && tokenMatches(a.Token, old.Token) {
		return
	}
	n := s.sessions.keepOnly(a.key())
	for _, st := range ended {
		st.end()
	}
	if n > 0 || len(ended) > 0 {
		s.logf("api: the token changed: %d web login(s) and %d open stream(s) ended", n, len(ended))
	}
}

// stream is a request that holds its connection past its check: a
// followed log or a console, opened with a token or a session made with
// it.
type stream struct {
	cancel context.CancelFunc
	conn   net.Conn // the TCP connection beneath TLS, nil in tests without one
}

func (st *stream) end() {
	st.cancel()
	if st.conn != nil {
		// A hijacked console no longer watches the request's context.
		st.conn.Close()
	}
}

// openStream registers r, let in by the token of by, as a stream. It
// fails when the token changed since the check: the check and the
// registration race with SetAuth otherwise.
func (s *Server) openStream(r *http.Request, by *Auth) (context.Context, func(), bool) {
	ctx, cancel := context.WithCancel(r.Context())
	st := &stream{cancel: cancel}
	if lc, ok := r.Context().Value(limitedConnKey{}).(*limitedConn); ok {
		st.conn = lc
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !tokenMatches(by.Token, s.auth.Load().Token) {
		cancel()
		return nil, nil, false
	}
	if s.streams == nil {
		s.streams = map[*stream]struct{}{}
	}
	s.streams[st] = struct{}{}
	return ctx, func() {
		s.mu.Lock()
		delete(s.streams, st)
		s.mu.Unlock()
		cancel()
	}, true
}

// openStreams counts the streams opened with a token.
func (s *Server) openStreams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}
