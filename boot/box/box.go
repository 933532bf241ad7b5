package box

import (
	"context"
	"os/exec"
	"sync"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/boot/slot"
	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/containers"
	"github.com/nucbox/nucbox/internal/cgroup"
	"github.com/nucbox/nucbox/internal/safe"
	"github.com/nucbox/nucbox/netcfg/timesync"
)

// Options are what the box takes from PID 1. Every field may be left
// zero (tests do); PID 1 sets them all.
type Options struct {
	// Logf prints one line, or several, of PID 1's log: on the console,
	// timestamped, and kept for the API. The box gives each stage and
	// each part of its own a logger with its prefix on top of it.
	Logf func(format string, args ...any)
	// ConsoleOnly prints a line on the console without keeping it in the
	// log the API serves: a newly made API token.
	ConsoleOnly func(text string)
	// BootLog serves PID 1's own log to the API: its recent lines and,
	// when follow is set, a channel of later ones closed when ctx ends.
	BootLog func(ctx context.Context, follow bool) ([]api.LogLine, <-chan api.LogLine)
	// Uptime is the time since the kernel started, on the log's clock:
	// the boot timeline of the ready summary and the API's uptime.
	Uptime func() time.Duration
	// StartCommand starts QEMU and qemu-img as children whose exit status
	// PID 1's reaper leaves to their owner.
	StartCommand func(*exec.Cmd) error
	// SpawnGuard runs a container runtime's forks with reaping paused and
	// registers the pids it returns as owned.
	SpawnGuard func(fn func() (pids []int, err error)) error
	// LoadModules loads the base modules, the named ones and those the
	// config's guests and containers need; it logs what it loaded.
	LoadModules func(extra []string, needs ModuleNeeds) error
	// MemoryLimit sets PID 1's soft memory limit, at every apply.
	MemoryLimit func(bytes int64)
	// PowerOff and Reboot start PID 1's orderly shutdown and return at
	// once.
	PowerOff, Reboot func(reason string)
	// Slot is the boot slot this boot came from, nil for none: upgrades
	// and the slot's state in the API.
	Slot *slot.Slot
	// DataDir is where the data partition is mounted, empty without one:
	// the last known good config is kept there.
	DataDir string
	// Data is the data partition as PID 1 set it up, for the status, and
	// the workloads to hold while one exists but is not mounted; nil
	// when not known (tests).
	Data func() *api.DataPartition
	// Clock is the box's NTP client, shared with PID 1's config fetch;
	// nil leaves the clock alone (tests).
	Clock *timesync.Clock
	// Stages replace the box's own stages (tests).
	Stages []Stage
}

// Box is the running box: its stages, the status PID 1 and the API show,
// the config it runs and the last known good one, live applies and their
// trials, and maintenance mode. PID 1 makes one with New and drives it
// through the boot phases config (Failed, EnterMaintenance), API
// (StartAPI), apply (ApplyConfig) and ready (Ready), and at shutdown
// (BeginShutdown, Stop); its methods are safe for concurrent use.
type Box struct {
	o   Options
	log logger // prefixless: each line names its part
	sup *supervisor
	net *networkStage // nil when tests bring their own stages
	srv *serveStage   // nil when tests bring their own stages
	api *apiStage     // the API server; a stage unless tests bring theirs

	mu     sync.Mutex
	status Status
	good   *ConfigRecord // the running config: the rollback target
	// busy is set for a live apply or a rollback from its start, so a
	// second one is refused rather than queued behind the first.
	busy bool
	try  *pendingTry

	// limits starts the watch of the workloads' limits at the first
	// apply.
	limits sync.Once
	// guards starts the watch of the ports' guards likewise.
	guards sync.Once
	// ready is closed when the box first gets ready: background checks
	// wait for it rather than compete with the boot.
	ready     chan struct{}
	readyOnce sync.Once
}

// New makes the box with its stages, none applied yet: modules,
// hostname, loopback, reserve, network, serve (DHCP and DNS), api, vms,
// containers.
func New(o Options) *Box {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.ConsoleOnly == nil {
		o.ConsoleOnly = func(string) {}
	}
	if o.Uptime == nil {
		start := time.Now()
		o.Uptime = func() time.Duration { return time.Since(start) }
	}
	if o.StartCommand == nil {
		o.StartCommand = (*exec.Cmd).Start
	}
	if o.LoadModules == nil {
		o.LoadModules = func([]string, ModuleNeeds) error { return nil }
	}
	if o.PowerOff == nil {
		o.PowerOff = func(string) {}
	}
	if o.Reboot == nil {
		o.Reboot = func(string) {}
	}
	b := &Box{o: o, log: logger{logf: o.Logf}, status: Status{Phase: "booting"}, ready: make(chan struct{})}
	b.api = &apiStage{b: b}
	stages := o.Stages
	if stages == nil {
		b.net = &networkStage{log: b.logger("network: "), uptime: o.Uptime}
		ctLog := b.logger("containers: ")
		ct := newContainersStage(ctLog, o.Uptime, o.SpawnGuard)
		ct.network = func(d *plan.Desired) *containers.Network { return b.net.containerNetwork(d, ctLog) }
		vms := newVMsStage(b.logger("vms: "), o.Uptime, o.StartCommand)
		ct.hold, vms.hold = b.dataHold, b.dataHold
		b.srv = &serveStage{log: b.logger("serve: "), dir: o.DataDir, net: b.net, clock: o.Clock,
			bundle: (&ownBundle{b: b}).get, cert: b.pxeCert}
		stages = []Stage{&modulesStage{load: o.LoadModules}, hostnameStage{}, loopbackStage{},
			&reserveStage{log: b.logger("reserve: "), root: cgroup.Mount, memoryLimit: o.MemoryLimit}, b.net,
			&lldpStage{log: b.logger(""), net: b.net, vlans: vlanChecker{log: b.logger(""), ready: b.ready}}, b.srv,
			&timeStage{log: b.logger("time: "), clock: o.Clock, leaseNTP: b.net.leaseNTP},
			&loggingStage{log: b.logger(""), uptime: o.Uptime, follow: (&apiBox{b: b}).Log, workloads: (&apiBox{b: b}).Workloads}, b.api,
			vms, ct}
	}
	b.sup = &supervisor{stages: stages, logf: o.Logf}
	return b
}

// logger is the log of one part of the box: PID 1's lines with the part's
// prefix ("vms: ").
func (b *Box) logger(prefix string) logger { return logger{logf: b.o.Logf, prefix: prefix} }

// goSafe runs fn in a goroutine, logging a panic instead of ending PID 1.
func (b *Box) goSafe(name string, fn func()) { safe.Go(b.o.Logf, name, fn) }

// goLoop runs fn, a long-lived part of the box, in a goroutine and runs
// it again, with backoff, after a panic; it ends when fn returns.
func (b *Box) goLoop(name string, fn func()) {
	safe.Loop(context.Background(), b.o.Logf, name, safe.DefaultBackoff, func(context.Context) error {
		fn()
		return nil
	})
}

// Status is the box's state, for the API and the console.
func (b *Box) Status() Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.status
	s.Errors = append([]string(nil), b.status.Errors...)
	return s
}

// LastGood returns the config the box runs: the last one that brought it
// to ready or was applied live. It is the rollback target when a new
// config fails; during a try it is the config on trial, and the try
// holds the one to go back to.
func (b *Box) LastGood() (ConfigRecord, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.good == nil {
		return ConfigRecord{}, false
	}
	return *b.good, true
}

func (b *Box) setPhase(p string) {
	b.mu.Lock()
	b.status.Phase = p
	b.mu.Unlock()
}

func (b *Box) shuttingDown() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.status.Phase == "shutting down"
}

// Failed records that the boot failed in stage with errs, the first the
// message and the rest its details, for the API. PID 1 reports it on the
// console and hands the console to the rescue shell.
func (b *Box) Failed(stage string, errs []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.status.Phase, b.status.Stage = "failed", stage
	b.status.Errors = append([]string(nil), errs...)
}

// ApplyConfig applies cfg, read at boot, and fills sum from the stages.
// It returns a *StageError for a stage that failed, and ErrShuttingDown
// when a shutdown cancelled it (an apply cut short that way has not
// failed).
func (b *Box) ApplyConfig(ctx context.Context, cfg *config.Config, sum *Summary) error {
	if err := b.applyConfig(ctx, cfg, sum); err != nil {
		if b.shuttingDown() {
			return ErrShuttingDown
		}
		return err
	}
	return nil
}

// Ready makes the box ready with rec, the config it applied at boot, and
// sum, its summary: the ready line on the console, rec the running and
// the last known good config. It returns ErrShuttingDown when a shutdown
// came first.
func (b *Box) Ready(rec ConfigRecord, sum Summary) error {
	sum.RSSKiB = rssKiB()
	sum.ReadyMS = b.o.Uptime().Milliseconds()
	sum.Data = b.dataPartition()
	b.mu.Lock()
	if b.status.Phase == "shutting down" {
		b.mu.Unlock()
		return ErrShuttingDown
	}
	b.status.Phase, b.status.Summary = "ready", &sum
	b.good = &rec
	b.mu.Unlock()
	b.log.Printf("ready %s", sum.JSON())
	b.readyOnce.Do(func() { close(b.ready) })
	b.rememberGood(rec)
	return nil
}

// applyConfig compiles cfg, once, and applies the result.
func (b *Box) applyConfig(ctx context.Context, cfg *config.Config, sum *Summary) error {
	p, err := plan.Compile(cfg)
	if err != nil {
		return &StageError{"compile", err}
	}
	b.limits.Do(b.watchLimits)
	b.guards.Do(b.watchGuards)
	return b.sup.apply(ctx, &p.Desired, sum)
}

// ApplyingStage names the stage an apply is in now, "" when none runs:
// what a boot that never gets ready was stuck in.
func (b *Box) ApplyingStage() string { return b.sup.currentStage() }

// BeginShutdown marks the box as shutting down: applies and requests end
// or are refused from now on. PID 1 then calls Stop.
func (b *Box) BeginShutdown() { b.setPhase("shutting down") }

// Stop cancels a running apply and stops the stages that own workloads,
// last first, within ctx.
func (b *Box) Stop(ctx context.Context) error { return b.sup.stop(ctx) }
