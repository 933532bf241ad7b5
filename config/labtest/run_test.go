package labtest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/syncbuf"
)

// fakeBox answers from a table: what each source reaches, after how many
// tries, and each workload's state.
type fakeBox struct {
	mu     sync.Mutex
	reach  map[string]Outcome // from+" "+target
	after  map[string]int     // tries before the target answers
	tries  map[string]int
	states map[string]string
	broken string // a source whose probes cannot run
}

func (b *fakeBox) Probe(_ context.Context, c Check) (Outcome, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.From == b.broken {
		return Outcome{}, errors.New("box said 409")
	}
	key := c.From + " " + c.Ping + c.Connect + c.Resolve
	b.tries[key]++
	if b.tries[key] <= b.after[key] {
		return Outcome{Detail: "no reply"}, nil
	}
	if o, ok := b.reach[key]; ok {
		return o, nil
	}
	return Outcome{Detail: "no reply"}, nil
}

func (b *fakeBox) State(_ context.Context, w string) (string, error) {
	if s, ok := b.states[w]; ok {
		return s, nil
	}
	return "", errors.New("no workload " + w)
}

func TestRunner(t *testing.T) {
	box := &fakeBox{
		reach: map[string]Outcome{
			"ct10 10.0.10.1":    {OK: true, Detail: "echo reply"},
			"ct10 vm10.lab":     {OK: true, Answers: []string{"10.0.10.10"}},
			"ct10 db.lab":       {OK: true, Answers: []string{"10.0.10.99"}},
			"ct20 10.0.20.5":    {OK: true, Detail: "echo reply"},
			"ct20 10.0.10.1:53": {OK: true, Detail: "connected"},
		},
		after:  map[string]int{"ct10 10.0.10.1": 2},
		tries:  map[string]int{},
		states: map[string]string{"vm10": "running", "ct30": "exited"},
		broken: "ct40",
	}
	src := `within: 10s
checks:
  - from: ct10
    ping: 10.0.10.1
  - from: ct10
    resolve: vm10.lab
    answer: 10.0.10.10
  - from: ct10
    resolve: db.lab
    answer: 10.0.10.10
  - from: ct20
    ping: 10.0.20.5
  - from: ct20
    connect: 10.0.10.1:53
    expect: unreachable
  - from: ct20
    ping: 10.0.10.1
    expect: unreachable
  - from: ct30
    ping: 10.0.10.1
    expect: unreachable
  - status: vm10
    state: running
  - status: ct30
    state: running
  - from: ct40
    ping: 10.0.10.1
`
	f, err := Parse("lab.test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	f.Within = 300 * time.Millisecond
	var out syncbuf.Buffer
	r := &Runner{Box: box, Out: &out, Retry: 10 * time.Millisecond}
	reps := r.Run(context.Background(), []*File{f})
	t.Log("\n" + out.String())
	want := map[string]string{
		"ct10 ping 10.0.10.1":                   "", // passes on its third try
		"ct10 resolve vm10.lab as 10.0.10.10":   "",
		"ct10 resolve db.lab as 10.0.10.10":     "answered 10.0.10.99, want 10.0.10.10",
		"ct20 ping 10.0.20.5":                   "",
		"ct20 must not connect to 10.0.10.1:53": "reached (connected)",
		"ct20 must not ping 10.0.10.1":          "",
		"ct30 must not ping 10.0.10.1":          "no positive control",
		"vm10 is running":                       "",
		"ct30 is running":                       "ct30 is exited, want running",
		"ct40 ping 10.0.10.1":                   "the probe could not run: box said 409",
	}
	if len(reps) != 1 || len(reps[0].Results) != len(want) {
		t.Fatalf("reports %+v", reps)
	}
	for _, res := range reps[0].Results {
		w, ok := want[res.Check.Title()]
		if !ok {
			t.Errorf("unexpected check %q", res.Check.Title())
			continue
		}
		if res.Pass != (w == "") || !strings.Contains(res.Detail, w) {
			t.Errorf("%s: pass=%t detail %q, want %q", res.Check.Title(), res.Pass, res.Detail, w)
		}
	}
	if box.tries["ct10 10.0.10.1"] != 3 {
		t.Errorf("ct10's ping was tried %d times, want 3 (twice unanswered)", box.tries["ct10 10.0.10.1"])
	}
	if got := reps[0].Failed(); got != 5 {
		t.Errorf("%d failed, want 5", got)
	}
	text := out.String()
	for _, line := range []string{
		"--- PASS: lab.test.yaml:3: ct10 ping 10.0.10.1 (",
		"--- FAIL: lab.test.yaml:13: ct20 must not connect to 10.0.10.1:53 (",
		"FAIL\tlab.test.yaml\t5 of 10 checks failed",
	} {
		if !strings.Contains(text, line) {
			t.Errorf("output lacks %q", line)
		}
	}
}
