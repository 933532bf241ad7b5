package boot

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/config/plan"
)

// defaultStages are PID 1's stages. They run in the order the compiled
// config carries (plan.Order): the workloads after the network, which
// gives them the bridge and their ports.
func defaultStages() []Stage {
	return []Stage{&modulesStage{}, hostnameStage{}, loopbackStage{}, &networkStage{}, &vmsStage{}, &containersStage{}}
}

// modulesStage loads the base modules, the config's extra modules and
// the coldplugged drivers.
type modulesStage struct{}

func (*modulesStage) Name() string { return plan.StageModules }

func (*modulesStage) Apply(ctx context.Context, d *plan.Desired) error {
	_, err := loadModules(d.Modules)
	return err
}

func (*modulesStage) Report(s *Summary) { s.Modules = len(loadedModules()) }

// defaultHostname is used when the config names none.
const defaultHostname = "nucbox"

type hostnameStage struct{}

func (hostnameStage) Name() string { return plan.StageHostname }

func (hostnameStage) Apply(ctx context.Context, d *plan.Desired) error {
	name := d.Hostname
	if name == "" {
		name = defaultHostname
	}
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("sethostname %q: %w", name, err)
	}
	return nil
}

func (hostnameStage) Report(s *Summary) {
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		s.Hostname = unix.ByteSliceToString(u.Nodename[:])
	}
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
