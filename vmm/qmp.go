package vmm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/digitalocean/go-qemu/qmp"

	"github.com/nucbox/nucbox/internal/inject"
	"github.com/nucbox/nucbox/internal/safe"
)

// monitor is a QMP connection to one QEMU, speaking go-qemu's wire types
// (qmp.Event, qmp.Version).
//
// It does not use go-qemu's SocketMonitor, which has three traps for a
// supervisor: a command has no deadline; an unread event blocks every
// later reply (events and replies share one unbuffered path); and a reply
// is handed out in the line scanner's buffer, which the next line (often
// the event that follows a reply, such as RESUME after cont) overwrites
// while the caller still parses it (go-qemu issue 226, seen here under
// the race detector). So:
//
//   - every command carries an id and waits for the reply with that id,
//     with a deadline; a reply that comes too late is dropped when it
//     arrives, so one slow command does not poison the connection;
//   - events are handed to a callback from the reader goroutine, which
//     never waits for anyone, so they are always drained;
//   - every message is decoded into its own memory.
type monitor struct {
	conn    net.Conn
	timeout time.Duration
	Version string
	onEvent func(qmp.Event)

	cmdMu  sync.Mutex // one command at a time, as QMP executes them
	nextID uint64

	mu      sync.Mutex
	pending *pendingCmd

	closeOnce sync.Once
	done      chan struct{} // closed when the reader ends
	readErr   error         // why the reader ended; set before done closes
}

type pendingCmd struct {
	id    uint64
	reply chan qmpMessage
}

// qmpMessage is any message QEMU sends: greeting, reply or event.
type qmpMessage struct {
	QMP *struct {
		Version qmp.Version `json:"version"`
	} `json:"QMP"`
	ID     *uint64         `json:"id"`
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	Event     string         `json:"event"`
	Data      map[string]any `json:"data"`
	Timestamp struct {
		Seconds      int64 `json:"seconds"`
		Microseconds int64 `json:"microseconds"`
	} `json:"timestamp"`
}

type qmpRequest struct {
	Execute   string `json:"execute"`
	Arguments any    `json:"arguments,omitempty"`
	ID        uint64 `json:"id"`
}

var errClosed = errors.New("QMP connection closed")

// dialQMP connects to QEMU's QMP socket and negotiates capabilities. QEMU
// creates the socket a moment after it starts, so ENOENT and ECONNREFUSED
// are retried until ctx ends or exited is closed (QEMU died before it
// listened). onEvent, which may be nil, is called for every event.
func dialQMP(ctx context.Context, path string, exited <-chan struct{}, timeout time.Duration, onEvent func(qmp.Event)) (*monitor, error) {
	var conn net.Conn
	for {
		var err error
		conn, err = net.DialTimeout("unix", path, timeout)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("QMP: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("QMP socket %s: %w", path, ctx.Err())
		case <-exited:
			return nil, errors.New("QEMU exited before its QMP socket was ready")
		case <-time.After(5 * time.Millisecond):
		}
	}
	m := &monitor{conn: conn, timeout: timeout, onEvent: onEvent, done: make(chan struct{})}
	dec := json.NewDecoder(conn)
	if err := m.handshake(ctx, dec); err != nil {
		conn.Close()
		return nil, fmt.Errorf("QMP handshake: %w", err)
	}
	safe.Go(log.Printf, "QMP reader "+path, func() { m.read(dec) })
	return m, nil
}

// handshake reads the greeting and enters command mode. Events that
// arrive before the capabilities reply are delivered, not mistaken for
// the reply.
//
// QEMU greets once it has built the machine, which on a busy box (many
// guests starting at once under TCG) takes far longer than answering a
// command: the greeting is bounded by the start (ctx's deadline), and
// only without one by the command timeout; the capabilities reply by
// the command timeout.
func (m *monitor) handshake(ctx context.Context, dec *json.Decoder) error {
	greet := m.timeout
	deadline := time.Now().Add(m.timeout)
	if d, ok := ctx.Deadline(); ok {
		deadline, greet = d, time.Until(d).Round(time.Millisecond)
	}
	m.conn.SetDeadline(deadline)
	defer m.conn.SetDeadline(time.Time{})
	var greeting qmpMessage
	if err := dec.Decode(&greeting); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("no QMP greeting from QEMU in %v", greet)
		}
		return err
	}
	if greeting.QMP == nil {
		return errors.New("no QMP greeting")
	}
	m.Version = greeting.QMP.Version.String()
	if reply := time.Now().Add(m.timeout); reply.Before(deadline) {
		m.conn.SetDeadline(reply)
	}
	if err := json.NewEncoder(m.conn).Encode(qmpRequest{Execute: "qmp_capabilities", ID: 0}); err != nil {
		return err
	}
	m.nextID = 1
	for {
		var msg qmpMessage
		if err := dec.Decode(&msg); err != nil {
			return deadlineText(err, m.timeout)
		}
		if msg.Event != "" {
			m.event(msg)
			continue
		}
		if msg.Error != nil {
			return fmt.Errorf("%s: %s", msg.Error.Class, msg.Error.Desc)
		}
		return nil
	}
}

func deadlineText(err error, timeout time.Duration) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("no answer in %v", timeout)
	}
	return err
}

func (m *monitor) read(dec *json.Decoder) {
	var err error
	defer func() {
		if errors.Is(err, net.ErrClosed) {
			err = errClosed
		}
		m.readErr = err
		close(m.done)
	}()
	// A panic in an event's handling costs that event, not the monitor:
	// the reader goes on with the next message.
	safe.Run(context.Background(), log.Printf, "QMP reader", safe.Backoff{Min: time.Millisecond, Max: time.Second}, func(context.Context) error {
		err = m.readMessages(dec)
		return nil
	})
}

// readMessages hands every message to its command or the event handler
// until the connection fails.
func (m *monitor) readMessages(dec *json.Decoder) error {
	for {
		var msg qmpMessage
		if err := dec.Decode(&msg); err != nil {
			return err
		}
		if msg.Event != "" {
			inject.Point("qmp.event")
			m.event(msg)
			continue
		}
		m.mu.Lock()
		p := m.pending
		if p != nil && msg.ID != nil && *msg.ID == p.id {
			m.pending = nil
			p.reply <- msg
		}
		m.mu.Unlock()
	}
}

func (m *monitor) event(msg qmpMessage) {
	if m.onEvent == nil {
		return
	}
	e := qmp.Event{Event: msg.Event, Data: msg.Data}
	e.Timestamp.Seconds, e.Timestamp.Microseconds = msg.Timestamp.Seconds, msg.Timestamp.Microseconds
	m.onEvent(e)
}

// run executes a QMP command and decodes its "return" value into out
// (which may be nil). It gives up after the monitor's timeout or when ctx
// ends, whichever is first.
func (m *monitor) run(ctx context.Context, command string, args any, out any) error {
	m.cmdMu.Lock()
	defer m.cmdMu.Unlock()
	select {
	case <-m.done:
		return fmt.Errorf("QMP %s: %w", command, m.readErr)
	default:
	}
	id := m.nextID
	m.nextID++
	p := &pendingCmd{id: id, reply: make(chan qmpMessage, 1)}
	m.mu.Lock()
	m.pending = p
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		if m.pending == p {
			m.pending = nil
		}
		m.mu.Unlock()
	}()
	m.conn.SetWriteDeadline(time.Now().Add(m.timeout))
	if err := json.NewEncoder(m.conn).Encode(qmpRequest{Execute: command, Arguments: args, ID: id}); err != nil {
		return fmt.Errorf("QMP %s: %w", command, err)
	}
	t := time.NewTimer(m.timeout)
	defer t.Stop()
	var msg qmpMessage
	select {
	case msg = <-p.reply:
	case <-t.C:
		return fmt.Errorf("QMP %s: no answer in %v", command, m.timeout)
	case <-ctx.Done():
		return fmt.Errorf("QMP %s: %w", command, ctx.Err())
	case <-m.done:
		return fmt.Errorf("QMP %s: %w", command, m.readErr)
	}
	if msg.Error != nil {
		return fmt.Errorf("QMP %s: %s: %s", command, msg.Error.Class, msg.Error.Desc)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(msg.Return, out); err != nil {
		return fmt.Errorf("QMP %s: %w", command, err)
	}
	return nil
}

// status is query-status's run state: prelaunch, running, paused,
// shutdown, guest-panicked...
func (m *monitor) status(ctx context.Context) (string, error) {
	var st struct {
		Status string `json:"status"`
	}
	if err := m.run(ctx, "query-status", nil, &st); err != nil {
		return "", err
	}
	return st.Status, nil
}

// quit asks QEMU to exit. QEMU may close the socket before its reply
// arrives; that counts as success.
func (m *monitor) quit(ctx context.Context) error {
	err := m.run(ctx, "quit", nil, nil)
	if err != nil && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		return nil
	}
	return err
}

func (m *monitor) close() {
	m.closeOnce.Do(func() { m.conn.Close() })
}
