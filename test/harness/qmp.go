package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
)

// QMPTimeout bounds every QMP command. go-qemu's Run has no deadline of its
// own and blocks forever on a QEMU that stopped answering; a test should
// fail with a message instead.
var QMPTimeout = 10 * time.Second

// monitor wraps go-qemu's SocketMonitor with the two things it lacks for
// tests: a deadline on every command and an event reader that always runs.
type monitor struct {
	mon *qmp.SocketMonitor

	mu     sync.Mutex
	events []qmp.Event
	wake   chan struct{}
	broken error
	done   chan struct{} // closed when the event stream ends
}

// dialQMP connects to QEMU's QMP socket, retrying until QEMU has created it,
// the deadline passes, or QEMU exits (gone, which then says why).
func dialQMP(path string, timeout time.Duration, gone <-chan struct{}) (*monitor, error) {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		mon, err := qmp.NewSocketMonitor("unix", path, time.Second)
		if err == nil {
			if err = connectWithin(mon, time.Until(deadline)); err == nil {
				return startMonitor(mon)
			}
		}
		last = err
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("qmp %s: no connection within %v: %w", path, timeout, last)
		}
		select {
		case <-gone:
			return nil, fmt.Errorf("qmp: qemu exited before its monitor answered (%v)", last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// connectWithin bounds the QMP greeting and capabilities handshake, which
// go-qemu reads without a deadline.
func connectWithin(mon *qmp.SocketMonitor, d time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- mon.Connect() }()
	select {
	case err := <-errc:
		if err != nil {
			mon.Disconnect()
		}
		return err
	case <-time.After(max(d, time.Second)):
		// Closing the connection makes the pending Connect return.
		mon.Disconnect()
		<-errc
		return errors.New("qmp handshake timed out")
	}
}

func startMonitor(mon *qmp.SocketMonitor) (*monitor, error) {
	events, err := mon.Events(context.Background())
	if err != nil {
		mon.Disconnect()
		return nil, err
	}
	m := &monitor{mon: mon, wake: make(chan struct{}), done: make(chan struct{})}
	// go-qemu delivers events on an unbuffered channel from the same
	// goroutine that delivers command replies: an event nobody reads
	// blocks every later command. This reader keeps it flowing.
	go func() {
		defer close(m.done)
		for e := range events {
			m.mu.Lock()
			m.events = append(m.events, e)
			close(m.wake)
			m.wake = make(chan struct{})
			m.mu.Unlock()
		}
	}()
	return m, nil
}

// run executes one QMP command and returns its "return" value.
func (m *monitor) run(timeout time.Duration, command string, args any) (json.RawMessage, error) {
	m.mu.Lock()
	broken := m.broken
	m.mu.Unlock()
	if broken != nil {
		return nil, fmt.Errorf("qmp %s: monitor unusable: %w", command, broken)
	}
	cmd, err := json.Marshal(qmp.Command{Execute: command, Args: args})
	if err != nil {
		return nil, err
	}
	type result struct {
		out []byte
		err error
	}
	rc := make(chan result, 1)
	go func() {
		out, err := m.mon.Run(cmd)
		rc <- result{out, err}
	}()
	select {
	case r := <-rc:
		if r.err != nil {
			return nil, fmt.Errorf("qmp %s: %w", command, r.err)
		}
		var resp struct {
			Return json.RawMessage `json:"return"`
		}
		if err := json.Unmarshal(r.out, &resp); err != nil {
			return nil, fmt.Errorf("qmp %s: %w", command, err)
		}
		return resp.Return, nil
	case <-time.After(timeout):
		// The reply may still come and would be taken as the reply to
		// the next command; a monitor that timed out is not used again.
		err := fmt.Errorf("no reply within %v", timeout)
		m.mu.Lock()
		m.broken = err
		m.mu.Unlock()
		m.mon.Disconnect()
		return nil, fmt.Errorf("qmp %s: %w", command, err)
	}
}

// waitEvent returns the first event named name, including events that
// arrived before the call.
func (m *monitor) waitEvent(timeout time.Duration, name string) (qmp.Event, error) {
	deadline := time.After(timeout)
	for {
		m.mu.Lock()
		for _, e := range m.events {
			if e.Event == name {
				m.mu.Unlock()
				return e, nil
			}
		}
		wake := m.wake
		m.mu.Unlock()
		select {
		case <-wake:
		case <-m.done:
			m.mu.Lock()
			for _, e := range m.events {
				if e.Event == name {
					m.mu.Unlock()
					return e, nil
				}
			}
			m.mu.Unlock()
			return qmp.Event{}, fmt.Errorf("qmp event %s: monitor closed first", name)
		case <-deadline:
			return qmp.Event{}, fmt.Errorf("qmp event %s: %w after %v", name, ErrTimeout, timeout)
		}
	}
}

func (m *monitor) snapshot() []qmp.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]qmp.Event(nil), m.events...)
}

func (m *monitor) close() {
	m.mon.Disconnect()
	// The event reader ends when go-qemu's reader sees the socket closed.
	<-m.done
}
