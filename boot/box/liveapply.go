package box

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/internal/safe"
)

// pendingTry is an apply that goes back to prev unless confirmed.
type pendingTry struct {
	prev     ConfigRecord
	next     ConfigRecord
	window   time.Duration
	deadline time.Time
	timer    *time.Timer
}

// Apply brings the running box to the config rec. The stages change only
// what differs, so workloads the new config leaves alone keep running. A
// failed apply re-applies the last known good config, so the box keeps
// what it ran. With try > 0 the previous config comes back by itself
// unless Confirm is called within try: a remote admin who cuts
// themselves off gets the box back.
func (b *Box) Apply(ctx context.Context, rec ConfigRecord, try time.Duration) (api.ApplyResult, error) {
	cfg, err := config.Parse(configName(rec.Source), rec.Data)
	if err != nil {
		return api.ApplyResult{}, &api.ConfigError{Err: err}
	}
	b.mu.Lock()
	phase, prevp := b.status.Phase, b.good
	if (phase != "ready" && phase != "maintenance") || prevp == nil {
		b.mu.Unlock()
		return api.ApplyResult{}, fmt.Errorf("%w (it is %s)", api.ErrNotReady, phase)
	}
	prev := *prevp
	if b.busy || b.try != nil {
		b.mu.Unlock()
		return api.ApplyResult{}, api.ErrBusy
	}
	b.busy = true
	b.mu.Unlock()
	defer b.idle()
	log := b.logger("apply: ")

	prevCfg, _ := config.Parse(configName(prev.Source), prev.Data)
	mode := ""
	if try > 0 {
		mode = " on trial for " + shortDuration(try)
	}
	log.Printf("from %s to %s (%s)%s:\n%s", short(prev.SHA256), short(rec.SHA256), rec.Source, mode, diffLines(prevCfg, cfg))
	res := api.ApplyResult{Previous: prev.SHA256, Config: rec.SHA256}
	if err := b.switchTo(ctx, rec, cfg); err != nil {
		if b.shuttingDown() {
			return res, fmt.Errorf("the box is shutting down: %w", err)
		}
		log.Printf("%s failed: %v; going back to %s", short(rec.SHA256), err, short(prev.SHA256))
		if rerr := b.switchTo(context.Background(), prev, prevCfg); rerr != nil {
			log.Printf("going back to %s failed too: %v", short(prev.SHA256), rerr)
			return res, fmt.Errorf("applying %s: %w; going back to %s failed too: %v", short(rec.SHA256), err, short(prev.SHA256), rerr)
		}
		return res, fmt.Errorf("applying %s: %w; the box went back to %s", short(rec.SHA256), err, short(prev.SHA256))
	}
	b.leaveMaintenance(prev, rec)
	if try <= 0 {
		log.Printf("running %s", short(rec.SHA256))
		b.rememberGood(rec)
		return res, nil
	}
	t := &pendingTry{prev: prev, next: rec, window: try, deadline: time.Now().Add(try)}
	b.mu.Lock()
	b.try = t
	t.timer = time.AfterFunc(try, func() { b.expire(t) })
	b.mu.Unlock()
	res.Try = &api.TryState{Config: rec.SHA256, Previous: prev.SHA256, Deadline: t.deadline}
	log.Printf("running %s on trial; it goes back to %s unless confirmed within %s", short(rec.SHA256), short(prev.SHA256), shortDuration(try))
	return res, nil
}

// Confirm keeps the config of the pending try.
func (b *Box) Confirm() (api.TryState, error) {
	b.mu.Lock()
	t := b.try
	if t == nil {
		b.mu.Unlock()
		return api.TryState{}, api.ErrNoTry
	}
	t.timer.Stop()
	b.try = nil
	b.mu.Unlock()
	b.logger("apply: ").Printf("%s confirmed", short(t.next.SHA256))
	b.rememberGood(t.next)
	return api.TryState{Config: t.next.SHA256, Previous: t.prev.SHA256, Deadline: t.deadline}, nil
}

// PendingTry returns the apply waiting for a confirmation, nil when none.
func (b *Box) PendingTry() *api.TryState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.try == nil {
		return nil
	}
	return &api.TryState{Config: b.try.next.SHA256, Previous: b.try.prev.SHA256, Deadline: b.try.deadline}
}

// expire rolls back the try t when it was neither confirmed nor
// replaced in the meantime.
func (b *Box) expire(t *pendingTry) {
	defer safe.Recover(b.o.Logf, "apply")
	b.mu.Lock()
	if b.try != t {
		b.mu.Unlock()
		return
	}
	b.try = nil
	b.busy = true
	b.mu.Unlock()
	defer b.idle()
	if b.shuttingDown() {
		return
	}
	log := b.logger("apply: ")
	cfg, err := config.Parse(configName(t.prev.Source), t.prev.Data)
	if err == nil {
		err = b.switchTo(context.Background(), t.prev, cfg)
	}
	if err != nil {
		log.Printf("not confirmed within %s; rolling back to %s failed: %v", shortDuration(t.window), short(t.prev.SHA256), err)
		return
	}
	log.Printf("not confirmed within %s, rolled back to %s", shortDuration(t.window), short(t.prev.SHA256))
	if t.prev.isMaintenance() {
		b.mu.Lock()
		if b.status.Phase == "ready" {
			b.status.Phase = "maintenance"
		}
		b.mu.Unlock()
		b.logger("maintenance: ").Printf("back in maintenance mode, waiting for a config")
	}
}

func (b *Box) idle() {
	b.mu.Lock()
	b.busy = false
	b.mu.Unlock()
}

// switchTo compiles cfg and runs the stages with it and, when they all
// succeed, makes rec the running and last known good config with a fresh
// summary. The boot timeline stays the boot's.
func (b *Box) switchTo(ctx context.Context, rec ConfigRecord, cfg *config.Config) error {
	b.mu.Lock()
	var sum Summary
	if b.status.Summary != nil {
		sum = *b.status.Summary
	}
	b.mu.Unlock()
	sum.Config, sum.ConfigSource = rec.SHA256, rec.Source
	sum.VMs, sum.Containers, sum.Guests, sum.Network = 0, 0, nil, nil
	if err := b.applyConfig(ctx, cfg, &sum); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.status.Phase == "shutting down" {
		return ErrShuttingDown
	}
	b.status.Summary = &sum
	b.good = &rec
	return nil
}

// diffLines is the plan diff for the log, indented under the apply line,
// with secrets hidden: the boot log is served by the API.
func diffLines(old, next *config.Config) string {
	text, err := api.DiffText(plan.Diff(old, next))
	if err != nil {
		return "    (no diff: " + err.Error() + ")"
	}
	text = strings.TrimRight(text, "\n")
	return "    " + strings.ReplaceAll(text, "\n", "\n    ")
}

// configName is what config.Parse names a config in its errors.
func configName(source string) string {
	if source == "" {
		return "config.yaml"
	}
	return source
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// shortDuration writes 2m rather than 2m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
