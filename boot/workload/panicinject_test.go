//go:build panicinject

package workload

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/internal/inject"
)

// A panic in a log follower costs the chunk in hand: the follow goes on
// with the workload's next output, and the panic is logged with the
// follower's name.
func TestFollowSurvivesAPanic(t *testing.T) {
	p, log := newTestPool(t, Options{})
	var fs fakes
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.Apply(ctx, []Want{fs.want("a", 1, Always)})
	_, more, ok := p.Follow(ctx, "a")
	if !ok {
		t.Fatal("no follow")
	}
	inject.Arm("log.follow")
	a := fs.get("a", 0)
	a.write("lost\n")
	a.write("after\n")
	select {
	case b, ok := <-more:
		if !ok || string(b) != "after\n" {
			t.Errorf("followed %q (open %v), want the output after the panic", b, ok)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing followed after the panic")
	}
	if got := log.String(); !strings.Contains(got, "a: follow: panic (recovered, PID 1 keeps running): injected panic at log.follow") {
		t.Errorf("the panic is not in the log:\n%s", got)
	}
}
