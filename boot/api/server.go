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
	"time"
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
	// Logf reports server problems; nil discards them.
	Logf func(format string, args ...any)
}

// Server is the API's HTTP handler and its listeners.
type Server struct {
	box          Box
	token        string
	publicStatus bool
	links        func() ([]Link, error)
	logf         func(string, ...any)
	mux          *http.ServeMux
	metrics      http.Handler

	mu      sync.Mutex
	servers []*http.Server
	// hijacked are the connections taken over by consoles, which the
	// http.Servers no longer track.
	hijacked map[net.Conn]struct{}
	closed   bool
}

// New returns a server; it listens only when ServeUnix or ServeTLS is
// called.
func New(o Options) *Server {
	s := &Server{box: o.Box, token: o.Token, publicStatus: o.PublicStatus, links: o.Links, logf: o.Logf}
	if s.links == nil {
		s.links = netlinkLinks
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
	public  bool
	handler http.HandlerFunc
}

// apiRoutes is the route table of the API proper; the page's assets and
// login are added by routes. A new endpoint is one more line here.
func (s *Server) apiRoutes() []route {
	return []route{
		{"GET /v1/status", accessRead, true, s.handleStatus},
		{"GET /v1/logs/{name}", accessRead, false, s.handleLogs},
		{"GET /v1/config", accessAdmin, false, s.handleConfig},
		{"POST /v1/plan", accessAdmin, false, s.handlePlan},
		{"POST /v1/apply", accessAdmin, false, s.handleApply},
		{"POST /v1/apply/confirm", accessAdmin, false, s.handleConfirm},
		{"POST /v1/power", accessAdmin, false, s.handlePower},
		{"POST /v1/workloads/{name}/{action}", accessAdmin, false, s.handleWorkload},
		{"GET /v1/console/{name}", accessAdmin, false, s.handleConsole},
		{"POST /v1/upgrade", accessAdmin, false, s.handleUpgrade},
		{"GET /metrics", accessRead, true, s.metrics.ServeHTTP},
	}
}

func (s *Server) routes() {
	m := http.NewServeMux()
	for _, rt := range s.apiRoutes() {
		m.HandleFunc(rt.pattern, s.need(rt.level, rt.public && s.publicStatus, rt.handler))
	}
	m.HandleFunc("GET /{$}", s.handleIndex)
	m.Handle("GET /static/", http.StripPrefix("/static/", staticFiles()))
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

// ServeTLS serves on a TCP address with TLS until Close.
func (s *Server) ServeTLS(addr string, cert tls.Certificate) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.ServeTLSListener(l, cert)
}

// ServeTLSListener serves TLS on l until Close.
func (s *Server) ServeTLSListener(l net.Listener, cert tls.Certificate) error {
	hs := s.httpServer()
	hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return s.serve(hs, tls.NewListener(l, hs.TLSConfig))
}

func (s *Server) httpServer() *http.Server {
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		// No write timeout: log follows stream for as long as the
		// client reads.
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    nil,
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
