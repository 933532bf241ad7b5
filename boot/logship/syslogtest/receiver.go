package syslogtest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	syslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc5424"
)

// Message is one message received, with its structured data element
// sdid's parameters.
type Message struct {
	*rfc5424.SyslogMessage
	Params map[string]string
}

// Text is the message's text, "" without one.
func (m Message) Text() string {
	if m.Message == nil {
		return ""
	}
	return *m.Message
}

// Receiver is a syslog server on one address. Close and Start take it
// down and up again on the same address, as a server that restarts.
type Receiver struct {
	addr string
	tls  *tls.Config
	sdid string

	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
	msgs   []Message
	errs   []error
	accept int
}

// Listen serves on addr (127.0.0.1:0 for a free port), over TLS when
// cfg is not nil; sdid names the structured data element whose
// parameters each Message carries.
func Listen(addr string, cfg *tls.Config, sdid string) (*Receiver, error) {
	r := &Receiver{addr: addr, tls: cfg, sdid: sdid}
	if err := r.Start(); err != nil {
		return nil, err
	}
	return r, nil
}

// Addr is the address served.
func (r *Receiver) Addr() string { return r.addr }

// Start serves again after Close, on the same address; the port of a
// closed listener may take a moment to be free.
func (r *Receiver) Start() error {
	var (
		ln  net.Listener
		err error
	)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if r.tls != nil {
			ln, err = tls.Listen("tcp", r.addr, r.tls)
		} else {
			ln, err = net.Listen("tcp", r.addr)
		}
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.ln, r.addr = ln, ln.Addr().String()
	r.mu.Unlock()
	go r.serve(ln)
	return nil
}

func (r *Receiver) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns = append(r.conns, c)
		r.accept++
		r.mu.Unlock()
		go octetcounting.NewParser(syslog.WithListener(r.take)).Parse(bufio.NewReader(c))
	}
}

func (r *Receiver) take(res *syslog.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if res.Error != nil {
		// A stream that ends between messages (a closed connection, a
		// failed handshake) is not an error.
		if !strings.Contains(res.Error.Error(), "found EOF, expecting a MSGLEN") {
			r.errs = append(r.errs, res.Error)
		}
		return
	}
	m := Message{SyslogMessage: res.Message.(*rfc5424.SyslogMessage)}
	if sd := m.StructuredData; sd != nil {
		m.Params = (*sd)[r.sdid]
	}
	r.msgs = append(r.msgs, m)
}

// Close stops serving and drops every connection.
func (r *Receiver) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// Messages are the messages received so far, and the parse errors.
func (r *Receiver) Messages() ([]Message, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.msgs...), append([]error(nil), r.errs...)
}

// Connections counts the connections accepted.
func (r *Receiver) Connections() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accept
}

// Wait waits up to timeout for a message that match accepts.
func (r *Receiver) Wait(timeout time.Duration, what string, match func(Message) bool) (Message, error) {
	deadline := time.Now().Add(timeout)
	for {
		msgs, _ := r.Messages()
		for _, m := range msgs {
			if match(m) {
				return m, nil
			}
		}
		if time.Now().After(deadline) {
			return Message{}, fmt.Errorf("no %s within %s (%d messages in)", what, timeout, len(msgs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// MissingSeq lists the numbers from 1 to the highest "seq" parameter
// received that never arrived: what the sender lost.
func MissingSeq(msgs []Message) (missing []uint64, highest uint64) {
	seen := map[uint64]bool{}
	for _, m := range msgs {
		n, err := strconv.ParseUint(m.Params["seq"], 10, 64)
		if err != nil {
			continue
		}
		seen[n] = true
		highest = max(highest, n)
	}
	for i := uint64(1); i <= highest; i++ {
		if !seen[i] {
			missing = append(missing, i)
		}
	}
	return missing, highest
}
