package containers

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Log keeps a container's output: the last RingSize bytes in memory for
// status and the API, and everything in a file rotated at MaxSize (one
// old file, NAME.log.1, is kept) so that a chatty container cannot fill
// the state directory.
type Log struct {
	mu      sync.Mutex
	ring    []byte
	max     int
	path    string
	f       *os.File
	size    int64
	maxSize int64
	subs    map[chan []byte]struct{}
	closed  bool
}

// followBuffer is how many writes a follower may fall behind before it
// is dropped: a container's output must never wait for a slow reader.
const followBuffer = 256

// Default log sizes.
const (
	DefaultRingSize = 64 << 10
	DefaultLogSize  = 8 << 20
)

// OpenLog appends to the file at path.
func OpenLog(path string, ringSize int, maxSize int64) (*Log, error) {
	if ringSize <= 0 {
		ringSize = DefaultRingSize
	}
	if maxSize <= 0 {
		maxSize = DefaultLogSize
	}
	l := &Log{max: ringSize, path: path, maxSize: maxSize}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Log) open() error {
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Write never fails for the writer: a log file that cannot be written
// must not block or kill the container, the ring still has the output.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.subs) > 0 && len(p) > 0 {
		c := append([]byte(nil), p...)
		for ch := range l.subs {
			select {
			case ch <- c:
			default:
				// Too far behind: the follow ends rather than stall the
				// container or miss output silently.
				delete(l.subs, ch)
				close(ch)
			}
		}
	}
	l.ring = append(l.ring, p...)
	if len(l.ring) > l.max {
		l.ring = append(l.ring[:0:0], l.ring[len(l.ring)-l.max:]...)
	}
	if l.f == nil {
		return len(p), nil
	}
	if l.size+int64(len(p)) > l.maxSize {
		l.rotate()
	}
	n, _ := l.f.Write(p)
	l.size += int64(n)
	return len(p), nil
}

func (l *Log) rotate() {
	l.f.Close()
	l.f = nil
	_ = os.Rename(l.path, l.path+".1")
	_ = l.open()
}

// Printf adds a line of nucbox's own (start, exit, restart) to the log.
func (l *Log) Printf(format string, a ...any) {
	fmt.Fprintf(l, "[nucbox] "+format+"\n", a...)
}

// Tail is the ring's content.
func (l *Log) Tail() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.ring...)
}

// Follow returns the ring's content and a channel of every later write,
// taken under one lock so that nothing is missed or repeated. The channel
// is closed by cancel, when the log is closed (the supervision ended), or
// when the follower falls more than followBuffer writes behind. cancel
// may be called more than once.
func (l *Log) Follow() (backlog []byte, more <-chan []byte, cancel func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := make(chan []byte, followBuffer)
	backlog = append([]byte(nil), l.ring...)
	if l.closed {
		close(ch)
		return backlog, ch, func() {}
	}
	if l.subs == nil {
		l.subs = map[chan []byte]struct{}{}
	}
	l.subs[ch] = struct{}{}
	return backlog, ch, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if _, ok := l.subs[ch]; ok {
			delete(l.subs, ch)
			close(ch)
		}
	}
}

// FollowLogs is Follow on the container's log: its tail, and its output
// and nucbox's notes from now on until cancel or the end of supervision.
func (s *Supervisor) FollowLogs() (backlog []byte, more <-chan []byte, cancel func()) {
	return s.log.Follow()
}

// Close closes the file and ends every follow.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for ch := range l.subs {
		delete(l.subs, ch)
		close(ch)
	}
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
