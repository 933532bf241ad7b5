package box

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nucbox/nucbox/boot/workload"
	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/containers"
)

// containersStage runs the compiled plan's OCI containers through a
// workload pool, on the bridge the network stage made.
//
// As with VMs, a container is one workload among others: an image that
// cannot be found or unpacked, a command that does not exist or a limit
// the kernel refuses is reported for that container (console, status,
// its log) and retried by its restart policy in the background, while
// the box reaches ready and everything else runs. Apply therefore never
// fails; a shutdown that cancels it still leaves the stage among the
// applied ones so that Stop ends what did start.
type containersStage struct {
	poolStage

	rtMu  sync.Mutex
	rt    ctRuntime
	rtKey string // state dir, box name and bridge the runtime was made for

	// spawnGuard is PID 1's, for the runtime's forks.
	spawnGuard func(fn func() ([]int, error)) error
	// newRuntime makes the runtime; tests replace it.
	newRuntime func(containers.Options) (ctRuntime, error)
	// network is the box's switch with d's bridge, nil without one.
	network func(d *plan.Desired) *containers.Network
	// settle bounds how long Apply waits for new containers to run or
	// fail before the box is declared ready; pulls go on after it.
	settle time.Duration
}

// ctRuntime makes containers' workloads: *containers.Runtime, or a fake.
type ctRuntime interface {
	Supervise(ct containers.Spec) (workload.Workload, error)
}

// realRuntime adapts *containers.Runtime to ctRuntime.
type realRuntime struct{ *containers.Runtime }

func (r realRuntime) Supervise(ct containers.Spec) (workload.Workload, error) {
	s, err := r.Runtime.Supervise(ct)
	if err != nil {
		return nil, err
	}
	return workload.Container(s), nil
}

func newContainersStage(log logger, uptime func() time.Duration, spawnGuard func(func() ([]int, error)) error) *containersStage {
	return &containersStage{poolStage: poolStage{lg: log, uptime: uptime}, spawnGuard: spawnGuard}
}

// defaultSettle covers a local image unpacked for the first time and a
// DHCP lease for the container under TCG; a registry pull that takes
// longer finishes after ready.
const defaultSettle = 60 * time.Second

func (*containersStage) Name() string { return plan.StageContainers }

func (c *containersStage) Apply(ctx context.Context, d *plan.Desired) error {
	settle := c.settle
	if settle == 0 {
		settle = defaultSettle
	}
	p := c.thePool(workload.Options{Kind: "container", Noun: "container", Log: c.lg.Slog(nil), Settle: settle})
	var network *containers.Network
	if c.network != nil {
		network = c.network(d)
	}
	if network == nil {
		for _, ct := range d.Containers {
			if len(ct.NICs) > 0 {
				c.lg.Printf("%s: warning: the box has no switch; its NICs are not wired (loopback only)", ct.Name)
			}
		}
	}
	p.Apply(ctx, c.wants(d, network))
	return nil
}

// ctKey is a container's spec as the pool compares it: a new state
// directory, box name or bridge changes every container's paths, MACs or
// ports, so all of them start over under a new runtime.
type ctKey struct {
	ct      containers.Spec
	runtime string
}

// wants turns the compiled containers into the pool's desired
// workloads: a spec and its restart policy each, or why it cannot run (a
// policy or an image source that names nothing, no runtime), or why it
// is held (its files are on a data partition that is not mounted). The
// runtime, which makes its image cache in the state directory, is made
// only for containers that may run.
func (c *containersStage) wants(d *plan.Desired, network *containers.Network) []workload.Want {
	key := d.StateDir + "\x00" + d.Hostname
	if network != nil {
		key += "\x00" + fmt.Sprint(network.Bridge)
	}
	hold := c.dataHold()
	holds := make([]string, len(d.Containers))
	runnable := 0
	for i, ct := range d.Containers {
		if holds[i] = hold.check(ctPaths(ct, d.StateDir)); holds[i] == "" {
			runnable++
		}
	}
	var rt ctRuntime
	var rtErr error
	if runnable > 0 {
		rt, rtErr = c.runtime(key, containers.Options{
			StateDir:   d.StateDir,
			Box:        d.Hostname,
			Logger:     c.lg.Slog(nil),
			SpawnGuard: c.spawnGuard,
			Network:    network,
		})
	}
	wants := make([]workload.Want, 0, len(d.Containers))
	for i, ct := range d.Containers {
		policy, err := workload.ParsePolicy(ct.Restart)
		if err == nil {
			err = ct.Image.Check()
		}
		w := workload.Want{Name: ct.Name, Policy: policy, Key: ctKey{ct, key},
			Details: map[string]string{"image": ct.Image.String()}, Hold: holds[i]}
		switch {
		case err != nil:
			w.Err = err
		case w.Hold != "":
			// Not made: the pool shows it held.
		case rtErr != nil:
			w.Err = fmt.Errorf("container runtime: %w", rtErr)
		default:
			w.New = func() (workload.Workload, error) { return rt.Supervise(ct) }
		}
		wants = append(wants, w)
	}
	return wants
}

// runtime is the container runtime for key, made anew when key changed.
func (c *containersStage) runtime(key string, o containers.Options) (ctRuntime, error) {
	c.rtMu.Lock()
	defer c.rtMu.Unlock()
	if c.rt != nil && c.rtKey == key {
		return c.rt, nil
	}
	if c.newRuntime == nil {
		c.newRuntime = func(o containers.Options) (ctRuntime, error) {
			rt, err := containers.New(o)
			if err != nil {
				return nil, err
			}
			return realRuntime{rt}, nil
		}
	}
	rt, err := c.newRuntime(o)
	if err != nil {
		c.rt = nil
		return nil, err
	}
	c.rt, c.rtKey = rt, key
	return rt, nil
}

func (c *containersStage) Report(s *Summary) {
	s.Containers = len(c.summaries())
}

// summaries are the containers of the applied config, in config order.
func (c *containersStage) summaries() []ContainerSummary {
	sts := c.statuses()
	out := make([]ContainerSummary, len(sts))
	for i, st := range sts {
		out[i] = summaryOf(st)
	}
	return out
}
