//go:build panicinject

package boot

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nucbox/nucbox/internal/inject"
)

// A panic in the maintenance mode's config retry is logged with the
// component's name, and the retry runs again: the config it then
// fetches is applied.
func TestMaintenanceRetryAfterAPanic(t *testing.T) {
	buf := withConsole(t)
	var fetches atomic.Int32
	applied := make(chan string, 1)
	r := configRetry{
		first: 10 * time.Millisecond,
		fetch: func(context.Context) (string, []byte, error) {
			fetches.Add(1)
			return "http://cfg/nuc1.yaml", []byte("hostname: nuc1\n"), nil
		},
		waiting: func() bool { return true },
		apply: func(name string, _ []byte) error {
			applied <- name
			return nil
		},
	}
	inject.Arm("maintenance.retry")
	goLoop("maintenance", r.run)
	select {
	case name := <-applied:
		if name != "http://cfg/nuc1.yaml" {
			t.Errorf("applied %q", name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the retry did not come back after its panic: nothing applied in 10s")
	}
	console.mu.Lock()
	log := buf.String()
	console.mu.Unlock()
	if !strings.Contains(log, "maintenance") || !strings.Contains(log, "panic") {
		t.Errorf("the panic is not logged with the component's name:\n%s", log)
	}
	// The panic came before the first fetch; the run after it fetched.
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches, want 1 (the panicking run never got to fetch)", n)
	}
}
