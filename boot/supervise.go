package boot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/config/plan"
)

// Stage is one step of applying the compiled config to the running
// system: modules, hostname, loopback, the network with the switch, the
// VMs and the containers. Each takes its part of d. Apply must be
// idempotent: it is called again with the same desired state when nothing
// changed and with a new one on a reload, and must then change only what
// differs.
type Stage interface {
	Name() string
	Apply(ctx context.Context, d *plan.Desired) error
}

// Stopper is implemented by stages that own running workloads; at
// shutdown they are stopped in the reverse order of their stages.
type Stopper interface {
	Stop(ctx context.Context) error
}

// Reporter is implemented by stages that contribute to the ready summary.
type Reporter interface {
	Report(s *Summary)
}

// Summary is the JSON printed on the ready line: what runs, which config,
// and the boot timeline, in milliseconds since the kernel started (the
// clock of the kernel's own console timestamps).
type Summary struct {
	Hostname string `json:"hostname"`
	// Config is the SHA-256 of the config file's bytes.
	Config       string `json:"config"`
	ConfigSource string `json:"config_source"`
	// InitMS is when PID 1 was first exec'd, ReadyMS when it got ready.
	InitMS  int64 `json:"init_ms"`
	ReadyMS int64 `json:"ready_ms"`
	// RSSKiB is PID 1's resident memory at ready.
	RSSKiB int64 `json:"rss_kib"`
	// Modules is how many kernel modules are loaded.
	Modules int `json:"modules"`
	// Root is the filesystem type of /: tmpfs once moved off the initramfs.
	Root       string `json:"root"`
	VMs        int    `json:"vms"`
	Containers int    `json:"containers"`
	// Network is the uplink, bridge and addresses after the network
	// stage, with the takeover's outage and probe.
	Network *NetworkSummary `json:"network,omitempty"`
	// Guests are the VMs with their state; a VM that failed is listed
	// with its error while the box is ready.
	Guests []GuestSummary `json:"guests,omitempty"`
}

// JSON renders the summary on one line.
func (s Summary) JSON() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// ConfigRecord is a config as PID 1 read it.
type ConfigRecord struct {
	Source string
	Data   []byte
	SHA256 string
}

func newConfigRecord(source string, data []byte) ConfigRecord {
	sum := sha256.Sum256(data)
	return ConfigRecord{Source: source, Data: data, SHA256: hex.EncodeToString(sum[:])}
}

// Status is PID 1's state for the API and the console.
type Status struct {
	Phase   string   `json:"phase"` // booting, ready, failed, shutting down
	Stage   string   `json:"stage,omitempty"`
	Errors  []string `json:"errors,omitempty"`
	Summary *Summary `json:"summary,omitempty"`
}

var (
	statusMu sync.Mutex
	status   = Status{Phase: "booting"}
	lastGood *ConfigRecord
)

// CurrentStatus returns PID 1's state.
func CurrentStatus() Status {
	statusMu.Lock()
	defer statusMu.Unlock()
	s := status
	s.Errors = append([]string(nil), status.Errors...)
	return s
}

// LastGoodConfig returns the config the box runs: the last one that
// brought it to ready or was applied live. It is the rollback target when
// a new config fails; during a try it is the config on trial, and the try
// holds the one to go back to. For now it lives in memory only.
func LastGoodConfig() (ConfigRecord, bool) {
	statusMu.Lock()
	defer statusMu.Unlock()
	if lastGood == nil {
		return ConfigRecord{}, false
	}
	return *lastGood, true
}

func setPhase(p string) {
	statusMu.Lock()
	status.Phase = p
	statusMu.Unlock()
}

func shuttingDown() bool {
	statusMu.Lock()
	defer statusMu.Unlock()
	return status.Phase == "shutting down"
}

// StageError is a stage's failure.
type StageError struct {
	Stage string
	Err   error
}

func (e *StageError) Error() string { return e.Stage + ": " + e.Err.Error() }
func (e *StageError) Unwrap() error { return e.Err }

// supervisor runs the stages in order.
type supervisor struct {
	stages   []Stage
	applying sync.Mutex // held for the whole of an apply

	mu      sync.Mutex
	applied []Stage
	cancel  context.CancelFunc // of the running apply
	// busy is set for a live apply or a rollback from its start, so a
	// second one is refused rather than queued behind applying.
	busy bool
	try  *pendingTry
}

var theSupervisor = &supervisor{stages: defaultStages()}

// applyConfig compiles cfg, once, and applies the result.
func (s *supervisor) applyConfig(ctx context.Context, cfg *config.Config, sum *Summary) error {
	p, err := plan.Compile(cfg)
	if err != nil {
		return &StageError{"compile", err}
	}
	return s.apply(ctx, &p.Desired, sum)
}

// ordered is the supervisor's stages in the order d gives. A name
// without a stage here is skipped and a stage d does not name runs after
// the named ones: tests run supervisors with stages of their own, while
// PID 1's stages are exactly those of plan.Order (TestDefaultStages).
func (s *supervisor) ordered(d *plan.Desired) []Stage {
	var out []Stage
	for _, name := range d.Order {
		for _, st := range s.stages {
			if st.Name() == name {
				out = append(out, st)
			}
		}
	}
	for _, st := range s.stages {
		if !slices.Contains(d.Order, st.Name()) {
			out = append(out, st)
		}
	}
	return out
}

// apply runs the stages in d's order, stopping at the first failure, and
// fills sum from the stages that report.
func (s *supervisor) apply(ctx context.Context, d *plan.Desired, sum *Summary) error {
	stages := s.ordered(d)
	s.applying.Lock()
	defer s.applying.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	for _, st := range stages {
		if ctx.Err() != nil {
			return &StageError{st.Name(), ctx.Err()}
		}
		t := time.Now()
		if err := callSafe(func() error { return st.Apply(ctx, d) }); err != nil {
			return &StageError{st.Name(), err}
		}
		// applied lists the stages that ever applied, in order: a stage
		// stays in it across live applies, since its workloads run on
		// even when a later apply fails before reaching it, and shutdown
		// must still stop them.
		s.mu.Lock()
		if !slices.ContainsFunc(s.applied, func(a Stage) bool { return a.Name() == st.Name() }) {
			s.applied = append(s.applied, st)
		}
		s.mu.Unlock()
		if d := time.Since(t); d > 100*time.Millisecond {
			Logf("%s: applied in %d ms", st.Name(), d.Milliseconds())
		}
		if r, ok := st.(Reporter); ok {
			r.Report(sum)
		}
	}
	return nil
}

// stop cancels a running apply, waits (within ctx) for it to return, and
// stops the applied stages that own workloads, last first. A stage stuck
// in Apply must not keep the power button from working, hence the
// cancel and the bounded wait.
func (s *supervisor) stop(ctx context.Context) error {
	s.mu.Lock()
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	returned := make(chan struct{})
	go func() {
		s.applying.Lock()
		s.applying.Unlock()
		close(returned)
	}()
	select {
	case <-returned:
	case <-ctx.Done():
		Logf("shutdown: a stage did not return from apply; stopping without it")
	}
	s.mu.Lock()
	applied := append([]Stage(nil), s.applied...)
	s.mu.Unlock()
	var first error
	for i := len(applied) - 1; i >= 0; i-- {
		st, ok := applied[i].(Stopper)
		if !ok {
			continue
		}
		if err := callSafe(func() error { return st.Stop(ctx) }); err != nil {
			Logf("%s: stop: %v", applied[i].Name(), err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}
