package boot

import (
	"context"
	"sync"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/internal/safe"
)

// LogLine is one line of PID 1's log.
type LogLine struct {
	// Seq numbers lines from 1 without gaps, so a follower that fell
	// behind can tell how many lines it missed.
	Seq uint64 `json:"seq"`
	// Time is the time since boot, on the same clock as the kernel log.
	Time time.Duration `json:"time_ns"`
	// Text is the line as printed after the timestamp, "nucbox: ...".
	Text string `json:"text"`
}

// String formats the line as it appeared on the console.
func (l LogLine) String() string { return stamp(l.Time) + " " + l.Text }

// LogRing keeps the last lines of the log in memory so that the API can
// serve them after they have scrolled off the console: an appliance has no
// disk to keep them on.
type LogRing struct {
	mu   sync.Mutex
	buf  []LogLine
	next int // index in buf of the slot the next line goes to
	n    int // lines held, up to len(buf)
	seq  uint64
	subs map[chan LogLine]struct{}
}

// NewLogRing returns a ring holding up to size lines.
func NewLogRing(size int) *LogRing {
	if size < 1 {
		size = 1
	}
	return &LogRing{buf: make([]LogLine, size), subs: map[chan LogLine]struct{}{}}
}

// Add appends a line, dropping the oldest when full, and hands it to the
// followers. A follower that does not keep up loses lines rather than
// stalling PID 1's logging; the gap shows in Seq.
func (r *LogRing) Add(t time.Duration, text string) LogLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	l := LogLine{Seq: r.seq, Time: t, Text: text}
	r.buf[r.next] = l
	r.next = (r.next + 1) % len(r.buf)
	if r.n < len(r.buf) {
		r.n++
	}
	for ch := range r.subs {
		select {
		case ch <- l:
		default:
		}
	}
	return l
}

// Lines returns the lines held, oldest first.
func (r *LogRing) Lines() []LogLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.linesLocked()
}

func (r *LogRing) linesLocked() []LogLine {
	out := make([]LogLine, 0, r.n)
	start := (r.next - r.n + len(r.buf)) % len(r.buf)
	for i := 0; i < r.n; i++ {
		out = append(out, r.buf[(start+i)%len(r.buf)])
	}
	return out
}

// Follow returns the lines held so far and a channel that receives every
// later line until ctx ends, when it is closed. Taking both under one lock
// means no line falls between the backlog and the stream.
func (r *LogRing) Follow(ctx context.Context) ([]LogLine, <-chan LogLine) {
	ch := make(chan LogLine, 256)
	r.mu.Lock()
	backlog := r.linesLocked()
	r.subs[ch] = struct{}{}
	r.mu.Unlock()
	safe.Go(Logf, "log follower", func() {
		<-ctx.Done()
		r.mu.Lock()
		delete(r.subs, ch)
		close(ch)
		r.mu.Unlock()
	})
	return backlog, ch
}

// apiLines serves the ring as the API's boot log: the lines held and,
// when follow is set, every later line until ctx ends.
func (r *LogRing) apiLines(ctx context.Context, follow bool) ([]api.LogLine, <-chan api.LogLine) {
	if !follow {
		return apiLines(r.Lines()), nil
	}
	backlog, ch := r.Follow(ctx)
	out := make(chan api.LogLine, 64)
	goSafe("api log", func() {
		defer close(out)
		for l := range ch {
			select {
			case out <- api.LogLine(l):
			case <-ctx.Done():
				// Follow closes ch once ctx ends; keep draining.
			}
		}
	})
	return apiLines(backlog), out
}

func apiLines(ls []LogLine) []api.LogLine {
	out := make([]api.LogLine, len(ls))
	for i, l := range ls {
		out[i] = api.LogLine(l)
	}
	return out
}
