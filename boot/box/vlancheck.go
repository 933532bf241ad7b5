package box

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nucbox/nucbox/internal/safe"
	"github.com/nucbox/nucbox/netcfg/vlancheck"
)

// vlanChecker checks, once per uplink and set of targets, that the
// switch port carries the uplink's tagged VLANs. It runs in the
// background once the box is ready (or readyWait after the takeover,
// for a boot that does not get there), so it never holds up the boot.
type vlanChecker struct {
	log   logger
	ready <-chan struct{}                           // nil: do not wait
	open  func(link string) (vlancheck.Conn, error) // nil: vlancheck.Open

	mu      sync.Mutex
	key     string
	results []vlancheck.Result
	cancel  context.CancelFunc
	done    chan struct{}
}

// readyWait bounds the wait for ready: a box that fails a later stage
// still gets its VLANs checked.
const readyWait = 30 * time.Second

// start checks targets on link unless that check already ran or runs;
// no targets (or no link) stops any check and clears the verdicts.
func (v *vlanChecker) start(link string, targets []vlancheck.Target) {
	key := fmt.Sprint(link, targets)
	v.mu.Lock()
	if v.key == key && v.done != nil {
		v.mu.Unlock()
		return
	}
	v.mu.Unlock()
	v.stop()
	if link == "" || len(targets) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	v.mu.Lock()
	v.key, v.cancel, v.done = key, cancel, done
	v.results = vlancheck.Pending(targets)
	v.mu.Unlock()
	targets = slices.Clone(targets)
	safe.Go(v.log.logf, "vlan check on "+link, func() {
		defer close(done)
		if v.ready != nil {
			t := time.NewTimer(readyWait)
			defer t.Stop()
			select {
			case <-v.ready:
			case <-t.C:
			case <-ctx.Done():
				return
			}
		}
		res := vlancheck.Run(ctx, link, targets, vlancheck.Options{}, v.open, v.log.logf)
		if ctx.Err() != nil {
			return
		}
		v.mu.Lock()
		v.results = res
		v.mu.Unlock()
		for _, r := range res {
			v.log.logf("vlan check: %s: %s", link, r)
		}
	})
}

// stop ends a running check and forgets the verdicts.
func (v *vlanChecker) stop() {
	v.mu.Lock()
	cancel, done := v.cancel, v.done
	v.key, v.cancel, v.done, v.results = "", nil, nil, nil
	v.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// status is a copy of the verdicts so far.
func (v *vlanChecker) status() []vlancheck.Result {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.results)
}
