package workload

import (
	"context"
	"time"

	"github.com/nucbox/nucbox/internal/inject"
	"github.com/nucbox/nucbox/internal/safe"
)

// followGrace is how long a follow whose stream ended waits for a
// successor before it ends too: a stream ends when its workload was
// dropped (a successor follows at once) or when the follower fell too
// far behind (none does).
const followGrace = 2 * time.Second

// Follow returns the tail of the named workload's output and a channel
// of its later output, until ctx ends or the workload leaves the pool.
// The stream goes on across restarts (one workload keeps its output
// across its runs) and across a replacement by an apply: the successor's
// output follows. ok is false for a name not in the pool.
func (p *Pool) Follow(ctx context.Context, name string) (backlog []byte, more <-chan []byte, ok bool) {
	e := p.lookup(name)
	if e == nil {
		return nil, nil, false
	}
	backlog, in, cancel := p.follow(e)
	out := make(chan []byte, 64)
	p.goSafe(name+": follow", func() {
		defer close(out)
		defer func() { cancel() }()
		send := func(b []byte) bool {
			if len(b) == 0 {
				return true
			}
			select {
			case out <- b:
				return true
			case <-ctx.Done():
				return false
			}
		}
		var grace <-chan time.Time
		// A panic costs the follower the chunk in hand, not the stream.
		safe.Run(ctx, safe.Slog(p.log), name+": follow", safe.Backoff{Min: time.Millisecond, Max: time.Second}, func(ctx context.Context) error {
			for {
				select {
				case <-ctx.Done():
					return nil
				case b, ok := <-in:
					if !ok {
						in = nil
						grace = time.After(followGrace)
						continue
					}
					inject.Point("log.follow")
					if !send(b) {
						return nil
					}
				case <-grace:
					return nil
				case <-e.gone:
					next := p.lookup(name)
					if next == nil || next == e {
						return nil
					}
					cancel()
					e, grace = next, nil
					var b []byte
					b, in, cancel = p.follow(next)
					if !send(b) {
						return nil
					}
				}
			}
		})
	}, nil)
	return backlog, out, true
}

// follow starts following e's workload; one that cannot run has its
// reason as output.
func (p *Pool) follow(e *entry) ([]byte, <-chan []byte, func()) {
	w, err := p.made(e)
	if w == nil {
		if err != nil {
			return []byte("error: " + err.Error() + "\n"), nil, func() {}
		}
		return nil, nil, func() {}
	}
	return w.Follow()
}
