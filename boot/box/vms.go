package box

import (
	"context"
	"errors"
	"os/exec"
	"time"

	"github.com/nucbox/nucbox/boot/workload"
	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/vmm"
)

// vmsStage runs the compiled plan's QEMU guests through a workload pool,
// after the network stage has made their TAPs on the bridge with their
// VLANs.
//
// A VM is one workload among others, so its failure is not the box's: a
// guest whose config cannot work, whose files are missing or whose QEMU
// will not start is logged, shown as failed in the ready summary (with
// its error) and, when its restart policy allows, retried in the
// background with backoff, while the box still reaches ready and the
// other guests and containers run. So Apply never fails: even when a
// shutdown cancels it halfway, it returns nil, which keeps the stage
// among the applied ones and lets Stop shut down the guests it did start.
type vmsStage struct {
	poolStage
	procs reaperProcs

	// newGuest makes a guest's workload; tests replace it.
	newGuest func(vmm.Spec, vmm.Options) workload.Workload
}

func newVMsStage(log logger, uptime func() time.Duration, start func(*exec.Cmd) error) *vmsStage {
	return &vmsStage{poolStage: poolStage{lg: log, uptime: uptime}, procs: reaperProcs{start}}
}

// reaperProcs starts QEMU and qemu-img as owned children of PID 1 (with
// PID 1's StartCommand), so the orphan reaper leaves their exit status to
// vmm.
type reaperProcs struct {
	start func(*exec.Cmd) error
}

func (p reaperProcs) Start(cmd *exec.Cmd) error {
	if p.start == nil {
		return cmd.Start()
	}
	return p.start(cmd)
}

func (reaperProcs) Wait(cmd *exec.Cmd) error { return cmd.Wait() }

func (*vmsStage) Name() string { return plan.StageVMs }

func (v *vmsStage) Apply(ctx context.Context, d *plan.Desired) error {
	log := v.lg.Slog(nil)
	p := v.thePool(workload.Options{Kind: "vm", Noun: "VM", Log: log})
	newGuest := v.newGuest
	if newGuest == nil {
		newGuest = func(s vmm.Spec, o vmm.Options) workload.Workload { return workload.VM(vmm.NewGuest(s, o)) }
	}
	opts := vmm.Options{Procs: v.procs, Log: log}
	p.Apply(ctx, vmWants(d.VMs, v.dataHold(), func(s vmm.Spec) workload.Workload { return newGuest(s, opts) }))
	return nil
}

// vmWants turns the compiled guests into the pool's desired workloads:
// a spec and its restart policy each, or why it cannot run (a policy or
// a spec that cannot work, such as a NIC MAC that is not an Ethernet
// address), or why it is held (hold: its files are on a data partition
// that is not mounted).
func vmWants(specs []vmm.Spec, hold dataHold, newGuest func(vmm.Spec) workload.Workload) []workload.Want {
	wants := make([]workload.Want, 0, len(specs))
	for _, spec := range specs {
		policy, err := workload.ParsePolicy(spec.Restart)
		w := workload.Want{Name: spec.Name, Policy: policy, Hold: hold.check(vmPaths(spec))}
		if err == nil {
			err = errors.Join(vmm.Check(spec)...)
		}
		if err != nil {
			w.Err = err
		} else {
			w.Key = spec
			w.New = func() (workload.Workload, error) { return newGuest(spec), nil }
		}
		wants = append(wants, w)
	}
	return wants
}

func (v *vmsStage) Report(s *Summary) {
	sts := v.statuses()
	s.VMs, s.Guests = len(sts), nil
	for _, st := range sts {
		s.Guests = append(s.Guests, guestSummary(st))
	}
}
