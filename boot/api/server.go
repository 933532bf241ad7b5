package api

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nucbox/nucbox/internal/inject"
)

// Options configure a Server.
type Options struct {
	Box Box
	// Token is the bearer token for TCP; empty leaves TCP with the
	// public endpoints only.
	Token string
	// PublicStatus serves the status, the page and the metrics without a
	// token (api.public-status).
	PublicStatus bool
	// Links lists the network links; nil reads them with netlink.
	Links func() ([]Link, error)
	// Switch reads the MAC tables and policy counters; nil reads them
	// with netlink when Links is nil too.
	Switch func() (*SwitchState, error)
	// Logf reports server problems; nil discards them.
	Logf func(format string, args ...any)
	// Limits bound the TCP clients; zero fields take DefaultLimits.
	Limits Limits
	// SessionLifetime and SessionIdle end a web login (Auth).
	SessionLifetime, SessionIdle time.Duration
	// WebAssets is the directory of the page's vendored viewers (a box
	// has them at WebAssetsDir); empty serves none.
	WebAssets string
}

// Server is the API's HTTP handler and its listeners.
type Server struct {
	box   Box
	auth  atomic.Pointer[Auth] // replaced whole by SetAuth
	links func() ([]Link, error)
	// bridges reads the MAC tables and policy counters (switch.go); nil
	// when the links are a test's.
	bridges func() (*SwitchState, error)
	logf    func(string, ...any)
	limits  Limits
	mux     *http.ServeMux
	metrics http.Handler
	// sessions are the web logins; now is their clock (tests move it).
	sessions  sessions
	now       func() time.Time
	webAssets string

	mu      sync.Mutex
	servers []*http.Server
	// hijacked are the connections taken over by consoles, which the
	// http.Servers no longer track.
	hijacked map[net.Conn]struct{}
	limiters []*connLimiter
	// streams are the open streams let in by a token, ended when it
	// changes (SetAuth).
	streams map[*stream]struct{}
	closed  bool
}

// New returns a server; it listens only when ServeUnix or ServeTLS is
// called.
func New(o Options) *Server {
	s := &Server{box: o.Box, links: o.Links, logf: o.Logf, limits: o.Limits.withDefaults(), now: time.Now, webAssets: o.WebAssets}
	s.auth.Store(&Auth{Token: o.Token, PublicStatus: o.PublicStatus, SessionLifetime: o.SessionLifetime, SessionIdle: o.SessionIdle})
	s.bridges = o.Switch
	if s.links == nil {
		s.links = netlinkLinks
		if s.bridges == nil {
			s.bridges = netlinkSwitch
		}
	}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	s.metrics = s.newMetrics()
	s.routes()
	return s
}

// route is one endpoint: its pattern, who may call it and its handler.
type route struct {
	pattern string
	level   access
	// public opens the route to everyone with api.public-status.
	public bool
	// body is how long the request may take to arrive.
	body    body
	handler http.HandlerFunc
}

// apiRoutes is the route table of the API proper; the page's assets and
// login are added by routes. A new endpoint is one more line here.
func (s *Server) apiRoutes() []route {
	return []route{
		{"GET /v1/status", accessRead, true, bodyShort, s.handleStatus},
		{"GET /v1/logs/{name}", accessRead, false, bodyFollow, s.handleLogs},
		{"GET /v1/config", accessAdmin, false, bodyShort, s.handleConfig},
		{"POST /v1/plan", accessAdmin, false, bodyShort, s.handlePlan},
		{"POST /v1/apply", accessAdmin, false, bodyShort, s.handleApply},
		{"POST /v1/apply/confirm", accessAdmin, false, bodyShort, s.handleConfirm},
		{"POST /v1/power", accessAdmin, false, bodyShort, s.handlePower},
		{"POST /v1/workloads/{name}/{action}", accessAdmin, false, bodyShort, s.handleWorkload},
		{"POST /v1/ports/{name}/enable", accessAdmin, false, bodyShort, s.handlePortEnable},
		{"GET /v1/console/{name}", accessAdmin, false, bodyStream, s.handleConsole},
		{"GET /v1/vms/{name}/vnc", accessAdmin, false, bodyStream, s.handleVNC},
		{"GET /v1/capture/{port}", accessAdmin, false, bodyStream, s.handleCapture},
		{"POST /v1/probe", accessAdmin, false, bodyShort, s.handleProbe},
		{"POST /v1/upgrade", accessAdmin, false, bodyUpload, s.handleUpgrade},
		{"GET /metrics", accessRead, true, bodyShort, s.metrics.ServeHTTP},
		{"GET /v1/debug/pprof/{profile}", accessAdmin, false, bodyShort, s.handleProfile},
	}
}

func (s *Server) routes() {
	m := http.NewServeMux()
	for _, rt := range s.apiRoutes() {
		m.HandleFunc(rt.pattern, s.need(rt.level, rt.public, rt.body, rt.handler))
	}
	m.HandleFunc("GET /{$}", s.handleIndex)
	m.Handle("GET /static/", http.StripPrefix("/static/", staticFiles()))
	m.Handle("GET /static/vendor/", http.StripPrefix("/static/vendor", vendorFiles(s.webAssets)))
	m.HandleFunc("POST /login", s.handleLogin)
	m.HandleFunc("POST /logout", s.handleLogout)
	s.mux = m
}

// ServeHTTP serves one request. A panic in a handler is logged and
// answered with 500: the server runs inside PID 1, which must never die.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				return
			}
			s.logf("api: panic serving %s %s (recovered): %v\n%s", r.Method, r.URL.Path, v, debug.Stack())
			writeError(w, http.StatusInternalServerError, "internal error")
		}
	}()
	inject.Point("api.request")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

// ServeUnix serves on a unix socket at path until Close. The socket's
// directory is made root-only before the socket exists, so no one else
// can connect in the moment before its own mode is set to 0600.
func (s *Server) ServeUnix(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return err
	}
	hs := s.httpServer()
	hs.ConnContext = func(ctx context.Context, c net.Conn) context.Context { return withLocal(ctx) }
	return s.serve(hs, l)
}

// ServeTLS serves on a TCP address with TLS until Close; the address
// need not be the host's yet (Listen).
func (s *Server) ServeTLS(addr string, cert tls.Certificate) error {
	l, err := Listen(addr)
	if err != nil {
		return err
	}
	return s.ServeTLSListener(l, cert)
}

// ServeTLSListener serves TLS on l until Close, holding at most
// Limits.MaxConns connections from it (Limits.MaxUnauthConns of them
// before a request with the token).
func (s *Server) ServeTLSListener(l net.Listener, cert tls.Certificate) error {
	hs := s.httpServer()
	hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	hs.ConnContext = withLimitedConn
	cl := newConnLimiter(l, s.limits.MaxConns, s.limits.MaxUnauthConns, s.logf)
	s.mu.Lock()
	s.limiters = append(s.limiters, cl)
	s.mu.Unlock()
	return s.serve(hs, tls.NewListener(cl, hs.TLSConfig))
}

func (s *Server) httpServer() *http.Server {
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.limits.ReadHeaderTimeout,
		// Extended for uploads and cleared for streams, per request
		// (setDeadline).
		ReadTimeout: s.limits.ReadTimeout,
		// No write timeout: log follows stream for as long as the
		// client reads.
		IdleTimeout:    s.limits.IdleTimeout,
		MaxHeaderBytes: s.limits.MaxHeaderBytes,
		ErrorLog:       s.errorLog(),
	}
}

func (s *Server) serve(hs *http.Server, l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.servers = append(s.servers, hs)
	s.mu.Unlock()
	err := hs.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops every listener and ends open streams.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var first error
	for _, hs := range s.servers {
		if err := hs.Close(); err != nil && first == nil {
			first = err
		}
	}
	s.servers = nil
	for c := range s.hijacked {
		c.Close()
	}
	s.hijacked = nil
	return first
}

// track keeps a hijacked connection for Close; it returns false when the
// server is closed already. untrack forgets it.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.hijacked == nil {
		s.hijacked = map[net.Conn]struct{}{}
	}
	s.hijacked[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.hijacked, c)
}

// apiError is the body of every error answer.
type apiError struct {
	Error  string   `json:"error"`
	Errors []string `json:"errors,omitempty"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(fmt.Sprintf(`{"error": %q}`, err.Error()))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
