package workload

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// testLog sends a logger's lines to the test's log, and drops lines after
// the test ended instead of panicking.
type testLog struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
	text strings.Builder
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.text.Write(p)
	if !l.done {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.text.String()
}

func newTestLog(t *testing.T) (*slog.Logger, *testLog) {
	l := &testLog{t: t}
	t.Cleanup(func() { l.mu.Lock(); l.done = true; l.mu.Unlock() })
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})), l
}

// fake is a Workload run in memory: a run lasts until exit or Stop.
type fake struct {
	name string

	mu       sync.Mutex
	runs     int
	stops    int
	closed   bool
	state    State
	pid      int
	done     chan struct{}
	err      error
	startErr error // the next starts fail with it
	block    bool  // the next starts wait for their context
	panics   bool  // the next start panics
	log      []byte
	subs     []chan []byte
	stopping chan struct{} // when set, Stop waits for it
}

func newFake(name string) *fake {
	c := make(chan struct{})
	close(c)
	return &fake{name: name, state: StateStopped, done: c}
}

func (f *fake) Start(ctx context.Context) error {
	f.mu.Lock()
	f.runs++
	f.done, f.err = make(chan struct{}), nil
	f.state = StateStarting
	if f.panics {
		f.mu.Unlock()
		panic("the fake's start panics")
	}
	block := f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.startErr
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		f.state, f.err = StateFailed, err
		close(f.done)
		return err
	}
	f.state, f.pid = StateRunning, 1000+f.runs
	f.writeLocked("run " + string(rune('0'+f.runs)) + "\n")
	return nil
}

// exit ends the running run on its own with err.
func (f *fake) exit(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state, f.pid, f.err = StateStopped, 0, err
	if err != nil {
		f.state = StateFailed
	}
	close(f.done)
}

func (f *fake) Stop(ctx context.Context) error {
	f.mu.Lock()
	wait := f.stopping
	f.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops++
	if f.state == StateRunning {
		f.state, f.pid = StateStopped, 0
		close(f.done)
	}
	return nil
}

func (f *fake) Done() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.done
}

func (f *fake) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (f *fake) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := Status{State: f.state, PID: f.pid}
	if f.err != nil {
		st.LastError = f.err.Error()
	}
	return st
}

func (f *fake) write(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeLocked(s)
}

func (f *fake) writeLocked(s string) {
	f.log = append(f.log, s...)
	for _, c := range f.subs {
		c <- []byte(s)
	}
}

func (f *fake) Logs() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]byte(nil), f.log...)
}

func (f *fake) Follow() ([]byte, <-chan []byte, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(chan []byte, 16)
	f.subs = append(f.subs, c)
	return append([]byte(nil), f.log...), c, func() {}
}

func (f *fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fake) counts() (runs, stops int, closed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runs, f.stops, f.closed
}

// fakes makes fakes for the pool and keeps them by name, in the order
// they were made.
type fakes struct {
	mu   sync.Mutex
	made map[string][]*fake
	// setup, when set, prepares a fake before the pool gets it.
	setup func(*fake)
}

func (fs *fakes) want(name string, key any, policy Policy) Want {
	return Want{Name: name, Key: key, Policy: policy, New: func() (Workload, error) {
		f := newFake(name)
		fs.mu.Lock()
		defer fs.mu.Unlock()
		if fs.setup != nil {
			fs.setup(f)
		}
		if fs.made == nil {
			fs.made = map[string][]*fake{}
		}
		fs.made[name] = append(fs.made[name], f)
		return f, nil
	}}
}

func (fs *fakes) get(name string, i int) *fake {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.made[name][i]
}

func (fs *fakes) count(name string) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.made[name])
}

// quick is a backoff for tests.
var quick = Backoff{Min: 10 * time.Millisecond, Max: 40 * time.Millisecond, Stable: time.Hour}

func newTestPool(t *testing.T, o Options) (*Pool, *testLog) {
	log, text := newTestLog(t)
	o.Log = log
	if o.Kind == "" {
		o.Kind = "vm"
	}
	if o.Backoff == (Backoff{}) {
		o.Backoff = quick
	}
	p := NewPool(o)
	t.Cleanup(func() { p.Stop(context.Background()) })
	return p, text
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func status(t *testing.T, p *Pool, name string) Status {
	t.Helper()
	st, ok := p.Status(name)
	if !ok {
		t.Fatalf("%s is not in the pool", name)
	}
	return st
}

var errCrash = errors.New("exit status 1")
