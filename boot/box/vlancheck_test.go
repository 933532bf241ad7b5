package box

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nucbox/nucbox/netcfg/vlancheck"
)

// The check waits for ready, then runs once per link and targets; its
// verdicts reach the status and the log; no targets clear them.
func TestVLANCheckerWaitsForReady(t *testing.T) {
	var mu sync.Mutex
	var logged []string
	opened := 0
	ready := make(chan struct{})
	v := &vlanChecker{ready: ready,
		log: logger{logf: func(f string, args ...any) {
			mu.Lock()
			logged = append(logged, fmt.Sprintf(f, args...))
			mu.Unlock()
		}},
		open: func(string) (vlancheck.Conn, error) {
			mu.Lock()
			opened++
			mu.Unlock()
			return nil, errors.New("no socket in this test")
		}}
	defer v.stop()
	targets := []vlancheck.Target{{VLAN: 10, Gateway: netip.MustParseAddr("10.0.10.254")}, {VLAN: 20}}
	v.start("lo", targets)
	time.Sleep(50 * time.Millisecond) // long enough for a check that does not wait to open its socket
	mu.Lock()
	early := opened
	mu.Unlock()
	if st := v.status(); early != 0 || len(st) != 2 || st[0].State != vlancheck.Checking || st[1].State != vlancheck.Checking {
		t.Fatalf("before ready: opened %d, status %+v", early, st)
	}
	close(ready)
	deadline := time.Now().Add(10 * time.Second)
	for v.status()[1].State == vlancheck.Checking {
		if time.Now().After(deadline) {
			t.Fatal("no verdict after ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	v.start("lo", targets) // the same check: not again
	st := v.status()
	mu.Lock()
	log := strings.Join(logged, "\n")
	n := opened
	mu.Unlock()
	if n != 1 || st[0].State != vlancheck.Failed || !strings.Contains(log, "vlan check: lo: VLAN 20 not checked: no socket in this test") {
		t.Errorf("opened %d, status %+v, log:\n%s", n, st, log)
	}
	v.start("lo", nil)
	if st := v.status(); st != nil {
		t.Errorf("no targets: status %+v", st)
	}
}
