package box

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/nucbox/nucbox/internal/safe"
	"github.com/nucbox/nucbox/netcfg/vlancheck"
)

// vlanChecker checks, once per uplink and set of targets, that the
// switch port carries the uplink's tagged VLANs. It runs in the
// background: the verdicts come a few seconds after the takeover and
// never hold up the stages after it.
type vlanChecker struct {
	log logger

	mu      sync.Mutex
	key     string
	results []vlancheck.Result
	cancel  context.CancelFunc
	done    chan struct{}
}

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
		res := vlancheck.Run(ctx, link, targets, vlancheck.Options{}, nil, v.log.logf)
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
