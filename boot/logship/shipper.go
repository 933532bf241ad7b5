package logship

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/nucbox/nucbox/internal/safe"
)

const (
	// DefaultBuffer is how much is kept while the server is unreachable.
	DefaultBuffer = 2 << 20
	// resendWindow: messages written to a stream this recently are sent
	// again after the stream breaks, since the peer may not have read
	// them (TCP has no acknowledgement a sender can see).
	resendWindow = 2 * time.Second
	dialTimeout  = 5 * time.Second
	writeTimeout = 10 * time.Second
)

// Target is where messages go, parsed from a URL: udp://HOST[:514],
// tcp://HOST[:514] or tcp+tls://HOST[:6514].
type Target struct {
	URL     string
	Network string // udp or tcp
	Addr    string // host:port
	TLS     bool
	Host    string // for the certificate check
}

// ParseURL reads a syslog server URL.
func ParseURL(s string) (Target, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Target{}, err
	}
	t := Target{URL: s, Host: u.Hostname()}
	port := "514"
	switch u.Scheme {
	case "udp":
		t.Network = "udp"
	case "tcp":
		t.Network = "tcp"
	case "tcp+tls", "tls":
		t.Network, t.TLS, port = "tcp", true, "6514"
	default:
		return Target{}, fmt.Errorf("%q: the scheme must be udp, tcp or tcp+tls", s)
	}
	if t.Host == "" {
		return Target{}, fmt.Errorf("%q: no host", s)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return Target{}, fmt.Errorf("%q: only scheme://host[:port]", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return Target{}, fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, p)
		}
		port = p
	}
	t.Addr = net.JoinHostPort(t.Host, port)
	return t, nil
}

// Options configure a Shipper.
type Options struct {
	URL string
	// Buffer bounds the bytes kept while the server is unreachable
	// (default DefaultBuffer).
	Buffer int
	// Hostname is the box's name, asked per message (an apply may
	// rename the box).
	Hostname func() string
	// RootCAs checks a TLS server; nil uses the system's bundle.
	RootCAs *x509.CertPool
	// Logf reports the connection's changes; its lines come back
	// through Send, so it is called only on changes.
	Logf func(format string, args ...any)
	// Dial connects (tests); default net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Status is the shipper's state for the box's status.
type Status struct {
	Remote    string `json:"remote"`
	Connected bool   `json:"connected"`
	Sent      uint64 `json:"sent"`
	// Queued messages wait for the server; Dropped were pushed out of
	// the full buffer.
	Queued      int    `json:"queued"`
	QueuedBytes int    `json:"queued_bytes"`
	Dropped     uint64 `json:"dropped"`
	LastError   string `json:"last_error,omitempty"`
}

// Shipper sends records to one syslog server. It is safe for concurrent
// use; Run does the sending.
type Shipper struct {
	o Options

	mu         sync.Mutex
	target     Target
	queue      [][]byte
	qbytes     int
	seq        uint64
	sent       uint64
	dropped    uint64
	unreported uint64 // dropped since the last report
	connected  bool
	lastErr    string

	wake     chan struct{}
	retarget chan struct{}
}

// New checks o.URL and makes a Shipper; Run sends.
func New(o Options) (*Shipper, error) {
	t, err := ParseURL(o.URL)
	if err != nil {
		return nil, err
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.Hostname == nil {
		o.Hostname = func() string { return "" }
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Dial == nil {
		o.Dial = (&net.Dialer{Timeout: dialTimeout}).DialContext
	}
	return &Shipper{o: o, target: t, wake: make(chan struct{}, 1), retarget: make(chan struct{}, 1)}, nil
}

// SetURL sends to another server from now on; what is queued goes there.
func (s *Shipper) SetURL(u string) error {
	t, err := ParseURL(u)
	if err != nil {
		return err
	}
	s.mu.Lock()
	changed := t != s.target
	s.target = t
	s.mu.Unlock()
	if changed {
		signal(s.retarget)
	}
	return nil
}

// SetBuffer changes the bound of the queue.
func (s *Shipper) SetBuffer(n int) {
	if n <= 0 {
		n = DefaultBuffer
	}
	s.mu.Lock()
	s.o.Buffer = n
	s.trim()
	s.mu.Unlock()
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Send queues r; it never blocks.
func (s *Shipper) Send(r Record) {
	host := s.o.Hostname()
	s.mu.Lock()
	s.seq++
	msg, err := encode(r, host, s.seq)
	if err == nil {
		s.queue = append(s.queue, msg)
		s.qbytes += len(msg)
		s.trim()
	}
	s.mu.Unlock()
	signal(s.wake)
}

// trim drops the oldest messages beyond the bound; s.mu is held.
func (s *Shipper) trim() {
	for s.qbytes > s.o.Buffer && len(s.queue) > 0 {
		s.qbytes -= len(s.queue[0])
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.dropped++
		s.unreported++
	}
}

// Status is the shipper's state.
func (s *Shipper) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Status{Remote: s.target.URL, Connected: s.connected, Sent: s.sent, Queued: len(s.queue),
		QueuedBytes: s.qbytes, Dropped: s.dropped, LastError: s.lastErr}
}

// Run sends until ctx ends, reconnecting after a failure (1 s, doubling
// up to 30 s).
func (s *Shipper) Run(ctx context.Context) {
	wait := time.Second
	for ctx.Err() == nil {
		s.mu.Lock()
		t := s.target
		s.mu.Unlock()
		conn, err := s.dial(ctx, t)
		if err == nil {
			wait = time.Second
			s.setConnected(t, true, nil)
			err = s.pump(ctx, conn, t)
			conn.Close()
			if ctx.Err() != nil {
				return
			}
		}
		s.setConnected(t, false, err)
		if err == nil {
			continue // a new target
		}
		select {
		case <-ctx.Done():
			return
		case <-s.retarget:
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func (s *Shipper) dial(ctx context.Context, t Target) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, err := s.o.Dial(dctx, t.Network, t.Addr)
	if err != nil || !t.TLS {
		return c, err
	}
	tc := tls.Client(c, &tls.Config{ServerName: t.Host, RootCAs: s.o.RootCAs, MinVersion: tls.VersionTLS12})
	if err := tc.HandshakeContext(dctx); err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
}

// setConnected records a connection's change and says so once per change.
func (s *Shipper) setConnected(t Target, up bool, err error) {
	s.mu.Lock()
	was, lost, queued := s.connected, s.unreported, len(s.queue)
	s.connected = up
	if err != nil {
		s.lastErr = err.Error()
	}
	if up {
		s.unreported = 0
	}
	buffer := s.o.Buffer
	s.mu.Unlock()
	switch {
	case up && lost > 0:
		s.o.Logf("logging: sending to %s; %d messages were dropped while it was unreachable (buffer %d KiB)", t.URL, lost, buffer>>10)
	case up:
		s.o.Logf("logging: sending to %s (%d queued)", t.URL, queued)
	case was && err != nil:
		s.o.Logf("logging: lost %s: %v; keeping up to %d KiB until it is back", t.URL, err, buffer>>10)
	}
}

type inflight struct {
	msg []byte
	at  time.Time
}

// pump writes queued messages to conn until it fails, the target changes
// (nil) or ctx ends.
func (s *Shipper) pump(ctx context.Context, conn net.Conn, t Target) error {
	stream := t.Network == "tcp"
	dead := make(chan error, 1)
	if stream {
		// Receivers never write: a read that returns means the peer
		// closed, which a write can miss until data was lost.
		safe.Go(s.o.Logf, "logging: reader", func() {
			_, err := conn.Read(make([]byte, 1))
			if err == nil {
				err = errors.New("the server sent data")
			}
			dead <- err
		})
	}
	var sent []inflight
	requeue := func() {
		cut := time.Now().Add(-resendWindow)
		var again [][]byte
		for _, f := range sent {
			if f.at.After(cut) {
				again = append(again, f.msg)
			}
		}
		if len(again) == 0 {
			return
		}
		s.mu.Lock()
		for _, m := range again {
			s.qbytes += len(m)
		}
		s.queue = append(again, s.queue...)
		s.trim()
		s.mu.Unlock()
	}
	// next waits for wake (a closed channel does not wait) and reports
	// whether the connection is done instead, with why.
	next := func(wake <-chan struct{}) (done bool, err error) {
		select {
		case err := <-dead:
			requeue()
			return true, fmt.Errorf("connection closed: %w", err)
		case <-s.retarget:
			return true, nil
		case <-ctx.Done():
			return true, ctx.Err()
		case <-wake:
			return false, nil
		}
	}
	now := make(chan struct{})
	close(now)
	for {
		if done, err := next(now); done {
			return err
		}
		s.mu.Lock()
		var msg []byte
		if len(s.queue) > 0 {
			msg = s.queue[0]
		}
		s.mu.Unlock()
		if msg == nil {
			if done, err := next(s.wake); done {
				return err
			}
			continue
		}
		frame := msg
		if stream {
			frame = append([]byte(strconv.Itoa(len(msg))+" "), msg...)
		}
		conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := conn.Write(frame); err != nil {
			requeue()
			return err
		}
		at := time.Now()
		s.mu.Lock()
		if len(s.queue) > 0 && &s.queue[0][0] == &msg[0] {
			s.qbytes -= len(msg)
			s.queue[0] = nil
			s.queue = s.queue[1:]
		}
		s.sent++
		s.mu.Unlock()
		if stream {
			sent = append(sent, inflight{msg, at})
			for len(sent) > 0 && at.Sub(sent[0].at) > resendWindow {
				sent = sent[1:]
			}
		}
	}
}
