package api

import (
	"fmt"
	"log"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Limits bound what a client of the TCP API can hold: time to send a
// request, idle connections, header size, and connections. A zero field
// takes the default in DefaultLimits. The unix socket is root-only and
// has no limits beyond the timeouts.
type Limits struct {
	// ReadHeaderTimeout is the time to send a request's headers (and,
	// over TLS, to finish the handshake).
	ReadHeaderTimeout time.Duration
	// ReadTimeout is the time to send a whole request, headers and body.
	ReadTimeout time.Duration
	// UploadTimeout replaces ReadTimeout for the body of an upload
	// (POST /v1/upgrade), counted from when the request authenticated.
	UploadTimeout time.Duration
	// IdleTimeout closes a kept-alive connection with no request.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps a request's headers.
	MaxHeaderBytes int
	// MaxConns caps the TCP connections held at once, and MaxUnauthConns
	// those of them on which no request has passed the token check yet.
	MaxConns       int
	MaxUnauthConns int
}

// DefaultLimits are the limits of a box's API. The connection caps stay
// far below PID 1's descriptor limit; an image upload of 512 MiB gets ten
// minutes, about 1 MiB/s.
var DefaultLimits = Limits{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       30 * time.Second,
	UploadTimeout:     10 * time.Minute,
	IdleTimeout:       2 * time.Minute,
	MaxHeaderBytes:    64 << 10,
	MaxConns:          256,
	MaxUnauthConns:    32,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	set(&l.ReadTimeout, d.ReadTimeout)
	set(&l.UploadTimeout, d.UploadTimeout)
	set(&l.IdleTimeout, d.IdleTimeout)
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxConns <= 0 {
		l.MaxConns = d.MaxConns
	}
	if l.MaxUnauthConns <= 0 {
		l.MaxUnauthConns = d.MaxUnauthConns
	}
	return l
}

// body says how long a route's request may take to arrive.
type body int

const (
	// bodyShort: within ReadTimeout of the request's start.
	bodyShort body = iota
	// bodyUpload: within UploadTimeout of passing the access check.
	bodyUpload
	// bodyStream: the route holds the connection for as long as the
	// client stays (a console); no read deadline once past the check.
	bodyStream
	// bodyFollow: a stream with ?follow=1 (a log), short otherwise.
	bodyFollow
)

// setDeadline adjusts the connection's read deadline for a request that
// passed its access check. http.Server arms ReadTimeout when a request
// starts and clears it itself once the body has been read to its end (so
// a handler that runs long is not cut off); what is left to decide per
// route is the body's own deadline: an upload gets UploadTimeout from
// now, a stream (console, followed log) none at all. Errors from the
// ResponseController mean a connection without deadlines (a test's
// recorder), where there is nothing to change.
// It returns the kind the request turned out to be.
func (s *Server) setDeadline(w http.ResponseWriter, r *http.Request, kind body) body {
	if kind == bodyFollow {
		kind = bodyShort
		if f := r.URL.Query().Get("follow"); f == "1" || f == "true" {
			kind = bodyStream
		}
	}
	rc := http.NewResponseController(w)
	switch kind {
	case bodyUpload:
		rc.SetReadDeadline(time.Now().Add(s.limits.UploadTimeout))
	case bodyStream:
		rc.SetReadDeadline(time.Time{})
	}
	return kind
}

// errorLog is the http.Server's log of connection errors (failed TLS
// handshakes, bad requests). Anyone who reaches the port can cause them,
// so they go to the box's log at most errorLogBurst lines a minute, and
// the count of the lines left out with the next one that is kept.
func (s *Server) errorLog() *log.Logger {
	return log.New(&limitedLog{logf: s.logf}, "", 0)
}

const errorLogBurst = 10

type limitedLog struct {
	logf func(string, ...any)

	mu      sync.Mutex
	window  time.Time
	n, lost int
}

func (l *limitedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.window) > time.Minute {
		l.window, l.n = time.Now(), 0
	}
	l.n++
	if l.n > errorLogBurst {
		l.lost++
		return len(p), nil
	}
	msg := strings.TrimRight(string(p), "\n")
	if l.lost > 0 {
		msg += fmt.Sprintf(" (%d more such lines left out)", l.lost)
		l.lost = 0
	}
	l.logf("api: %s", msg)
	return len(p), nil
}
