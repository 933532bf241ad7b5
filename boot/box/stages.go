package box

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/internal/kmod"
)

// The box's stages run in the order the compiled config carries
// (plan.Order): the workloads after the network, which gives them the
// bridge and their ports. New makes them: modules, hostname, loopback,
// network, vms, containers.

// modulesStage loads the base modules, the config's extra modules and
// the coldplugged drivers, through PID 1's one module loader.
type modulesStage struct {
	load func(extra []string) error
}

func (*modulesStage) Name() string { return plan.StageModules }

func (m *modulesStage) Apply(ctx context.Context, d *plan.Desired) error { return m.load(d.Modules) }

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
