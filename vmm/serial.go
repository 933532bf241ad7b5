package vmm

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// Ring keeps the last bytes written to it: the tail of a guest's serial
// console, readable through the API while the guest runs and after it
// crashed, without reading a log file that may be megabytes long.
type Ring struct {
	mu sync.Mutex
	// buf grows with what is written, up to size: a guest that prints
	// little (most wait quietly after their boot) costs PID 1 only that,
	// not size bytes per VM.
	buf  []byte
	size int
	next int  // where the next byte goes
	full bool // buf has wrapped at least once
	subs map[*ringSub]struct{}
}

// ringSub is one follower of a Ring.
type ringSub struct {
	ch     chan []byte
	closed bool
}

// followBuffer is how many writes a follower may fall behind before it
// is dropped: the writer is the guest's console, which must never wait
// for a slow reader.
const followBuffer = 256

// NewRing returns a ring that keeps the last size bytes.
func NewRing(size int) *Ring { return &Ring{size: max(size, 1)} }

// Write appends p, dropping the oldest bytes; it never fails.
func (r *Ring) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.subs) > 0 && len(p) > 0 {
		c := append([]byte(nil), p...)
		for s := range r.subs {
			select {
			case s.ch <- c:
			default:
				// Too far behind: the follower ends rather than stall
				// the console or miss bytes silently.
				r.dropLocked(s)
			}
		}
	}
	n := len(p)
	if !r.full && r.next+n < r.size {
		r.buf = append(r.buf[:r.next], p...)
		r.next += n
		return n, nil
	}
	if len(r.buf) < r.size {
		r.buf = append(r.buf[:r.next], make([]byte, r.size-r.next)...)
	}
	if n >= len(r.buf) {
		copy(r.buf, p[n-len(r.buf):])
		r.next, r.full = 0, true
		return n, nil
	}
	c := copy(r.buf[r.next:], p)
	if c < n {
		copy(r.buf, p[c:])
		r.full = true
	}
	r.next = (r.next + n) % len(r.buf)
	if r.next == 0 && n > 0 {
		r.full = true
	}
	return n, nil
}

// Bytes returns a copy of the kept bytes, oldest first.
func (r *Ring) Bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]byte(nil), r.buf[:r.next]...)
	}
	out := make([]byte, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

// Follow returns the kept bytes and a channel of every later write, taken
// under one lock so that nothing is missed or repeated between the two.
// The channel is closed by cancel, or when the follower falls more than
// followBuffer writes behind. cancel may be called more than once.
func (r *Ring) Follow() (backlog []byte, more <-chan []byte, cancel func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &ringSub{ch: make(chan []byte, followBuffer)}
	if r.subs == nil {
		r.subs = map[*ringSub]struct{}{}
	}
	r.subs[s] = struct{}{}
	if !r.full {
		backlog = append([]byte(nil), r.buf[:r.next]...)
	} else {
		backlog = make([]byte, 0, len(r.buf))
		backlog = append(backlog, r.buf[r.next:]...)
		backlog = append(backlog, r.buf[:r.next]...)
	}
	return backlog, s.ch, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.dropLocked(s)
	}
}

func (r *Ring) dropLocked(s *ringSub) {
	if s.closed {
		return
	}
	s.closed = true
	delete(r.subs, s)
	close(s.ch)
}

// logFile appends to a file and rotates it to path.1 beyond max bytes, so
// a chatty guest cannot fill the state directory (which is RAM until the
// box has a data partition).
type logFile struct {
	mu   sync.Mutex
	path string
	max  int64
	f    *os.File
	size int64
}

func openLog(path string, max int64) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &logFile{path: path, max: max, f: f, size: fi.Size()}, nil
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.size+int64(len(p)) > l.max && l.size > 0 {
		if err := l.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

func (l *logFile) rotate() error {
	l.f.Close()
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return err
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	l.f, l.size = f, 0
	return nil
}

func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// copySerial copies QEMU's stdout (the guest's serial console) into the
// log and the ring until QEMU closes it. It must keep reading whatever
// happens to the log: a full pipe would stall the guest's console and,
// with it, the guest.
func copySerial(r io.Reader, log io.Writer, ring *Ring) {
	// Small: twenty VMs each hold one for as long as they run, and a
	// serial console delivers a few bytes at a time.
	buf := make([]byte, 4<<10)
	logOK := log != nil
	for {
		n, err := r.Read(buf)
		if n > 0 {
			ring.Write(buf[:n])
			if logOK {
				if _, werr := log.Write(buf[:n]); werr != nil {
					logOK = false
					fmt.Fprintf(ring, "\n[nucbox: serial log write failed: %v; the log stops here]\n", werr)
				}
			}
		}
		if err != nil {
			return
		}
	}
}
