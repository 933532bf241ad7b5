package box

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/internal/cgroup"
	"github.com/nucbox/nucbox/internal/kmod"
)

// The box's stages run in the order the compiled config carries
// (plan.Order): the workloads after the network, which gives them the
// bridge and their ports. New makes them: modules, hostname, loopback,
// reserve, network, serve, time, logging, api, vms, containers.

// modulesStage loads the base modules, the config's extra modules and
// those its workloads need, through PID 1's one module loader.
type modulesStage struct {
	load func(extra []string, needs ModuleNeeds) error
}

// ModuleNeeds says which workloads a config has, whose kernel modules
// (KVM, TAPs, veths, overlay) the boot loads only for them.
type ModuleNeeds struct{ VMs, Containers bool }

func (*modulesStage) Name() string { return plan.StageModules }

func (m *modulesStage) Apply(ctx context.Context, d *plan.Desired) error {
	return m.load(append(slices.Clone(d.Modules), d.NetModules...), ModuleNeeds{VMs: len(d.VMs) > 0, Containers: len(d.Containers) > 0})
}

func (*modulesStage) Report(s *Summary) { s.Modules = len(kmod.Loaded()) }

// DefaultHostname is the box's name when the config names none, and
// until the config is read.
const DefaultHostname = "nucbox"

type hostnameStage struct{}

func (hostnameStage) Name() string { return plan.StageHostname }

func (hostnameStage) Apply(ctx context.Context, d *plan.Desired) error {
	name := d.Hostname
	if name == "" {
		name = DefaultHostname
	}
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("sethostname %q: %w", name, err)
	}
	return nil
}

func (hostnameStage) Report(s *Summary) {
	if name, ok := hostname(); ok {
		s.Hostname = name
	}
}

// hostname is the kernel's host name.
func hostname() (string, bool) {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "", false
	}
	return unix.ByteSliceToString(u.Nodename[:]), true
}

// loopbackStage brings lo up; the kernel then gives it 127.0.0.1/8 and
// ::1 by itself.
type loopbackStage struct{}

func (loopbackStage) Name() string { return plan.StageLoopback }

func (loopbackStage) Apply(ctx context.Context, d *plan.Desired) error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	return netlink.LinkSetUp(lo)
}

// reserveStage makes the cgroup every VM and container runs under, sized
// so that what the workloads can take together leaves the box's reserve
// of memory and processes (d.Workloads). A box without cgroup2 (a test
// host) or a kernel that refuses the limits runs its workloads without
// the floor, and says so: the workloads are not the box, and the box must
// not refuse to run them for it.
type reserveStage struct {
	log  logger
	root string
	// memoryLimit sets PID 1's soft memory limit (nil in tests).
	memoryLimit func(int64)

	mu   sync.Mutex
	path string // the group made, empty before or without one
}

func (*reserveStage) Name() string { return plan.StageReserve }

func (r *reserveStage) Apply(ctx context.Context, d *plan.Desired) error {
	if r.memoryLimit != nil && d.PID1Memory > 0 {
		r.memoryLimit(d.PID1Memory)
	}
	if !cgroup.IsV2(r.root) {
		r.log.Printf("warning: no cgroup2 at %s: workloads run without the box's reserve", r.root)
		return nil
	}
	l, err := d.Workloads.Apply(r.root)
	if err != nil {
		r.log.Printf("warning: %s: %v: workloads run without the box's reserve", d.Workloads.Path, err)
		return nil
	}
	r.mu.Lock()
	r.path = d.Workloads.Path
	r.mu.Unlock()
	r.log.Printf("workloads under %s: memory.max %d MiB, pids.max %d; the box keeps %d MiB and %d pids",
		d.Workloads.Path, l.Memory>>20, l.PIDs, d.Workloads.Reserve.Memory>>20, d.Workloads.Reserve.PIDs)
	return nil
}

// hits are the workloads' group's own limits and how often they were
// reached (memory.events.local: a child's limit counts there, not here),
// and its path; nil before the group was made.
func (r *reserveStage) hits() (*cgroup.Hits, string) {
	r.mu.Lock()
	path := r.path
	r.mu.Unlock()
	if path == "" {
		return nil, ""
	}
	h, err := cgroup.ReadHits(filepath.Join(r.root, path), true)
	if err != nil {
		return nil, path
	}
	return &h, path
}
