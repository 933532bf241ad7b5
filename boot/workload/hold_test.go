package workload

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// A Want with a Hold is not made, shows as stopped and held with the
// reason, and refuses a start request; beside it, a workload without one
// runs (the positive control), and the held one runs once an apply comes
// without the Hold.
func TestWantHold(t *testing.T) {
	p, log := newTestPool(t, Options{})
	var fs fakes
	ctx := context.Background()
	const why = "/var/lib/nucbox/vms/a is on the data partition, which is not mounted"
	held := fs.want("a", 1, Always)
	held.Hold = why
	p.Apply(ctx, []Want{held, fs.want("b", 1, Always)})

	if fs.count("a") != 0 {
		t.Errorf("a held workload was made %d times", fs.count("a"))
	}
	st := status(t, p, "a")
	if !st.Held || st.State != StateStopped || !strings.Contains(st.LastError, why) {
		t.Errorf("held a: %+v; want stopped, held, with the reason", st)
	}
	if st := status(t, p, "b"); st.State != StateRunning || st.Held {
		t.Errorf("b beside a held workload: %+v; want running", st)
	}
	if !strings.Contains(log.String(), "a: held, not started: "+why) {
		t.Errorf("the log does not say a is held:\n%s", log.String())
	}
	if strings.Contains(log.String(), "a: FAILED") {
		t.Errorf("a held workload is reported as failed:\n%s", log.String())
	}
	if _, err := p.Control(ctx, "a", Start); !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), why) {
		t.Errorf("start of a held workload: %v; want refused with the reason", err)
	}
	if fs.count("a") != 0 {
		t.Errorf("a start request made the held workload")
	}

	// A running workload that becomes held is stopped.
	b := fs.get("b", 0)
	heldB := fs.want("b", 1, Always)
	heldB.Hold = why
	p.Apply(ctx, []Want{held, heldB})
	if _, stops, _ := b.counts(); stops != 1 {
		t.Errorf("b held by an apply was stopped %d times, want 1", stops)
	}
	if st := status(t, p, "b"); !st.Held || st.State != StateStopped {
		t.Errorf("b after an apply that holds it: %+v", st)
	}

	p.Apply(ctx, []Want{fs.want("a", 1, Always)})
	if st := status(t, p, "a"); fs.count("a") != 1 || st.State != StateRunning || st.Held || st.LastError != "" {
		t.Errorf("a applied without its hold: made %d, %+v; want running", fs.count("a"), st)
	}
}
