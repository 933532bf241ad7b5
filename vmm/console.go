package vmm

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// The guest's serial console is QEMU's stdio chardev: QEMU's stdout is the
// guest's output (copied into serial.log and the ring by copySerial), its
// stdin the guest's input. Input comes from WriteConsole, so the log goes
// on being captured whoever types.

// ErrNotRunning is returned for console input while no QEMU runs.
var ErrNotRunning = errors.New("the VM is not running")

// consoleWriteTimeout bounds one write of console input: a guest that
// does not read its serial port fills the pipe, and a typist must then
// get an error rather than hang.
const consoleWriteTimeout = 5 * time.Second

// WriteConsole sends p to the guest's serial port, as if typed on it.
func (g *Guest) WriteConsole(p []byte) (int, error) {
	g.mu.Lock()
	cur := g.cur
	g.mu.Unlock()
	if cur == nil || cur.stdin == nil {
		return 0, ErrNotRunning
	}
	cur.stdin.SetWriteDeadline(time.Now().Add(consoleWriteTimeout))
	n, err := cur.stdin.Write(p)
	if errors.Is(err, os.ErrClosed) {
		err = ErrNotRunning
	}
	return n, err
}

// Console is an interactive session on a guest's serial console: Read
// returns the console's output from the moment it was opened, Write types
// into it. Several sessions may be open at once; they all see the output
// and their input is mixed, as on a shared serial line.
type Console struct {
	g      *Guest
	halt   <-chan struct{} // the guest's, when the session opened
	more   <-chan []byte
	cancel func()
	rest   []byte

	closeOnce sync.Once
	closed    chan struct{}
}

// OpenConsole starts a console session. It fails with ErrNotRunning when
// no QEMU runs.
func (g *Guest) OpenConsole() (*Console, error) {
	g.mu.Lock()
	running, halt := g.cur != nil, g.halt
	g.mu.Unlock()
	if !running {
		return nil, ErrNotRunning
	}
	_, more, cancel := g.ring.Follow()
	return &Console{g: g, halt: halt, more: more, cancel: cancel, closed: make(chan struct{})}, nil
}

// Read returns console output, across QEMU restarts. It returns io.EOF
// once the session is closed, the guest was stopped (Stop, which its
// owner also calls on a guest it does not start again), or the reader
// fell too far behind the console.
func (c *Console) Read(p []byte) (int, error) {
	if len(c.rest) == 0 {
		select {
		case b, ok := <-c.more:
			if !ok {
				return 0, io.EOF
			}
			c.rest = b
		case <-c.halt:
			return 0, io.EOF
		case <-c.closed:
			return 0, io.EOF
		}
	}
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	return n, nil
}

// Write sends p to the guest's serial port.
func (c *Console) Write(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, os.ErrClosed
	default:
	}
	return c.g.WriteConsole(p)
}

// Close ends the session; the guest runs on.
func (c *Console) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.cancel()
	})
	return nil
}
