package boot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/config/plan"
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
func (s *supervisor) Apply(ctx context.Context, rec ConfigRecord, try time.Duration) (api.ApplyResult, error) {
	cfg, err := config.Parse(configName(rec.Source), rec.Data)
	if err != nil {
		return api.ApplyResult{}, &api.ConfigError{Err: err}
	}
	statusMu.Lock()
	phase, prevp := status.Phase, lastGood
	statusMu.Unlock()
	if (phase != "ready" && phase != "maintenance") || prevp == nil {
		return api.ApplyResult{}, fmt.Errorf("%w (it is %s)", api.ErrNotReady, phase)
	}
	prev := *prevp

	s.mu.Lock()
	if s.busy || s.try != nil {
		s.mu.Unlock()
		return api.ApplyResult{}, api.ErrBusy
	}
	s.busy = true
	s.mu.Unlock()
	defer s.idle()

	prevCfg, _ := config.Parse(configName(prev.Source), prev.Data)
	mode := ""
	if try > 0 {
		mode = " on trial for " + shortDuration(try)
	}
	Logf("apply: from %s to %s (%s)%s:\n%s", short(prev.SHA256), short(rec.SHA256), rec.Source, mode, diffLines(prevCfg, cfg))
	res := api.ApplyResult{Previous: prev.SHA256, Config: rec.SHA256}
	if err := s.switchTo(ctx, rec, cfg); err != nil {
		if shuttingDown() {
			return res, fmt.Errorf("the box is shutting down: %w", err)
		}
		Logf("apply: %s failed: %v; going back to %s", short(rec.SHA256), err, short(prev.SHA256))
		if rerr := s.switchTo(context.Background(), prev, prevCfg); rerr != nil {
			Logf("apply: going back to %s failed too: %v", short(prev.SHA256), rerr)
			return res, fmt.Errorf("applying %s: %w; going back to %s failed too: %v", short(rec.SHA256), err, short(prev.SHA256), rerr)
		}
		return res, fmt.Errorf("applying %s: %w; the box went back to %s", short(rec.SHA256), err, short(prev.SHA256))
	}
	leaveMaintenance(prev, rec)
	if try <= 0 {
		Logf("apply: running %s", short(rec.SHA256))
		rememberGood(rec)
		return res, nil
	}
	t := &pendingTry{prev: prev, next: rec, window: try, deadline: time.Now().Add(try)}
	s.mu.Lock()
	s.try = t
	t.timer = time.AfterFunc(try, func() { s.expire(t) })
	s.mu.Unlock()
	res.Try = &api.TryState{Config: rec.SHA256, Previous: prev.SHA256, Deadline: t.deadline}
	Logf("apply: running %s on trial; it goes back to %s unless confirmed within %s", short(rec.SHA256), short(prev.SHA256), shortDuration(try))
	return res, nil
}

// Confirm keeps the config of the pending try.
func (s *supervisor) Confirm() (api.TryState, error) {
	s.mu.Lock()
	t := s.try
	if t == nil {
		s.mu.Unlock()
		return api.TryState{}, api.ErrNoTry
	}
	t.timer.Stop()
	s.try = nil
	s.mu.Unlock()
	Logf("apply: %s confirmed", short(t.next.SHA256))
	rememberGood(t.next)
	return api.TryState{Config: t.next.SHA256, Previous: t.prev.SHA256, Deadline: t.deadline}, nil
}

// PendingTry returns the apply waiting for a confirmation, nil when none.
func (s *supervisor) PendingTry() *api.TryState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.try == nil {
		return nil
	}
	return &api.TryState{Config: s.try.next.SHA256, Previous: s.try.prev.SHA256, Deadline: s.try.deadline}
}

// expire rolls back the try t when it was neither confirmed nor
// replaced in the meantime.
func (s *supervisor) expire(t *pendingTry) {
	defer recoverLog("apply")
	s.mu.Lock()
	if s.try != t {
		s.mu.Unlock()
		return
	}
	s.try = nil
	s.busy = true
	s.mu.Unlock()
	defer s.idle()
	if shuttingDown() {
		return
	}
	cfg, err := config.Parse(configName(t.prev.Source), t.prev.Data)
	if err == nil {
		err = s.switchTo(context.Background(), t.prev, cfg)
	}
	if err != nil {
		Logf("apply: not confirmed within %s; rolling back to %s failed: %v", shortDuration(t.window), short(t.prev.SHA256), err)
		return
	}
	Logf("apply: not confirmed within %s, rolled back to %s", shortDuration(t.window), short(t.prev.SHA256))
	if t.prev.isMaintenance() {
		statusMu.Lock()
		if status.Phase == "ready" {
			status.Phase = "maintenance"
		}
		statusMu.Unlock()
		Logf("maintenance: back in maintenance mode, waiting for a config")
	}
}

func (s *supervisor) idle() {
	s.mu.Lock()
	s.busy = false
	s.mu.Unlock()
}

// switchTo compiles cfg and runs the stages with it and, when they all
// succeed, makes rec the running and last known good config with a fresh
// summary. The boot timeline stays the boot's.
func (s *supervisor) switchTo(ctx context.Context, rec ConfigRecord, cfg *config.Config) error {
	statusMu.Lock()
	var sum Summary
	if status.Summary != nil {
		sum = *status.Summary
	}
	statusMu.Unlock()
	sum.Config, sum.ConfigSource = rec.SHA256, rec.Source
	sum.VMs, sum.Containers, sum.Guests, sum.Network = 0, 0, nil, nil
	if err := s.applyConfig(ctx, cfg, &sum); err != nil {
		return err
	}
	statusMu.Lock()
	defer statusMu.Unlock()
	if status.Phase == "shutting down" {
		return errors.New("the box is shutting down")
	}
	status.Summary = &sum
	lastGood = &rec
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
