package boot

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nucbox/nucbox/boot/box"
	"github.com/nucbox/nucbox/internal/kmod"
	"github.com/nucbox/nucbox/internal/safe"
)

// kernelModules is PID 1's one module loader, over the image's module
// database, opened on first use. Hotplug listens from the first load on.
type kernelModules struct {
	mu      sync.Mutex
	loader  *kmod.Loader
	hotplug bool
	// powerButtons watches the power buttons once their driver is in.
	powerButtons sync.Once
}

func (m *kernelModules) theLoader() (*kmod.Loader, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.loader == nil {
		db, err := kmod.Open(kmod.RunningDir())
		if err != nil {
			return nil, err
		}
		m.loader = kmod.NewLoader(db, func(f string, a ...any) { Logf("modules: "+f, a...) })
	}
	return m.loader, nil
}

// startHotplug opens the uevent socket once; it goes before the coldplug
// scan so that no device falls between the scan and the first event.
func (m *kernelModules) startHotplug(l *kmod.Loader) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hotplug {
		return
	}
	m.hotplug = true
	h, err := l.ListenHotplug()
	if err != nil {
		Logf("modules: warning: no hotplug: %v", err)
		return
	}
	goForever("hotplug", func() {
		if err := h.Serve(); err != nil {
			Logf("modules: hotplug: %v", err)
		}
	})
}

// Some modules only workloads use, and the boot leaves them out until a
// config has workloads, or until after ready: the CPU's own drivers are
// coldplugged like any device's (its modalias lists its features), but
// what they bring is KVM (kvm with kvm_intel or kvm_amd, ccp, irqbypass),
// by far the biggest modules, a second of linking under TCG, and the vms
// stage must find /dev/kvm to choose the accelerator; and the base
// modules for TAPs, veths and container rootfs (workloadModules).

// cpuModalias is where the kernel publishes the CPU's modalias.
const cpuModalias = "/sys/devices/system/cpu/modalias"

func isCPUModalias(ma string) bool { return strings.HasPrefix(ma, "cpu:") }

// workloadModules are the base modules only guests and containers use:
// vxlan and macvlan are loaded for what runs in them; the port policies'
// (bridge-family nftables meta, tc) only matter with workload ports.
var workloadModules = []string{"tun", "veth", "vxlan", "macvlan", "overlay", "xfrm_user",
	"nft_meta_bridge", "sch_tbf", "sch_ingress", "cls_u32", "act_mirred", "ifb", "dummy"}

// bootModules are the base modules but workloadModules.
func bootModules() []string {
	var out []string
	for _, m := range kmod.BaseModules() {
		if !slices.Contains(workloadModules, m) {
			out = append(out, m)
		}
	}
	return out
}

// loadModules loads the base modules and the drivers coldplug finds for
// the devices present, but the CPU's. A base module that is missing or
// fails is an error; a coldplug driver that fails is only a warning,
// because a device the box does not use must not keep it from booting.
func (p *pid1) loadModules() (count int, err error) {
	start := time.Now()
	kmod.SetModprobeHelper()
	l, err := p.modules.theLoader()
	if err != nil {
		return 0, err
	}
	p.modules.startHotplug(l)
	// NICs first, then the rest of the hardware, then the base modules:
	// a NIC's driver brings its carrier up, which the kernel's link-state
	// work takes in at once but then holds the next change of any link
	// for a second (the uplink going up in the network stage); the
	// earlier the first, the less the network stage waits.
	nics, nicErrs := loadNICDrivers(l)
	// Then the disk controllers' drivers, beside everything else: such a
	// driver sleeps in its init until its links are probed (ahci, a
	// third of a second under TCG even with nothing attached), and the
	// CPU can link the rest meanwhile. Their libraries (libata,
	// scsi_mod) load first and alone, so that the probe starts as early
	// as it can, rather than after the CPU shared the linking of
	// everything. The base modules load beside the coldplug too; they
	// need no device.
	storageDevs := pciDevices(isStorageController)
	var storageDrivers []string
	for _, d := range storageDevs {
		storageDrivers = append(storageDrivers, l.DriversFor(d.modalias)...)
	}
	libs, libErrs := l.Load(l.Dependencies(storageDrivers))
	nics, nicErrs = append(nics, libs...), append(nicErrs, libErrs...)
	var (
		loaded, disks      []string
		reqErrs, diskWarns []error
		base, storage      = make(chan struct{}), make(chan struct{})
	)
	safe.Go(Logf, "storage drivers", func() {
		defer close(storage) // also after a panic, which safe.Go logs
		disks, diskWarns = l.ColdplugUnder(dirs(storageDevs))
	})
	safe.Go(Logf, "base modules", func() {
		defer close(base)
		loaded, reqErrs = l.Load(bootModules())
	})
	hw, hwWarn := l.ColdplugExcept(func(ma string) bool { return isCPUModalias(ma) || isStorageController(ma) })
	<-storage
	<-base
	hw, hwWarn = append(append(nics, disks...), hw...), append(append(nicErrs, diskWarns...), hwWarn...)
	// button and evdev are base modules: the power button exists now.
	p.watchPowerButtons()
	for _, w := range hwWarn {
		Logf("modules: warning: coldplug: %v", w)
	}
	all := append(loaded, hw...)
	sort.Strings(all)
	Logf("modules: loaded %d in %d ms: %s", len(all), time.Since(start).Milliseconds(), strings.Join(all, " "))
	if len(hw) > 0 {
		sort.Strings(hw)
		Logf("modules: coldplug: %s", strings.Join(hw, " "))
	}
	return len(all), errors.Join(reqErrs...)
}

// loadNICDrivers loads the drivers of the PCI network controllers (PCI
// class 02, "bc02" in the modalias, whose IDs are upper-case hex), then
// those of what they reveal below them (virtio_pci's virtio NIC wants
// virtio_net). That second step is not left to hotplug: hotplug takes
// one device at a time, and virtio_pci reveals every virtio device at
// once, so virtio_net would wait for virtio_rng and the rest to load,
// and the NIC's first carrier, which starts the kernel's one-second
// hold on the next link change (the uplink going up), would come later.
func loadNICDrivers(l *kmod.Loader) (loaded []string, errs []error) {
	nics := pciDevices(func(ma string) bool { return strings.Contains(ma, "bc02") })
	for _, d := range nics {
		done, e := l.LoadFor(d.modalias)
		loaded, errs = append(loaded, done...), append(errs, e...)
	}
	// The driver may be loading already, for another device, in the
	// hotplug goroutine; its probe adds the devices below the NIC before
	// it binds, so wait for the binding before looking below.
	for _, d := range nics {
		waitBound(d.dir, nicBindWait)
	}
	done, e := l.ColdplugUnder(dirs(nics))
	return append(loaded, done...), append(errs, e...)
}

// nicBindWait bounds the wait for a NIC's driver to bind: a NIC without
// a driver in the image never binds, and must not hold the boot up.
const nicBindWait = 500 * time.Millisecond

// waitBound waits until the device at dir has a driver bound (its driver
// link), or until max has passed.
func waitBound(dir string, max time.Duration) {
	if dir == "" {
		return
	}
	deadline := time.Now().Add(max)
	for {
		if _, err := os.Lstat(filepath.Join(dir, "driver")); err == nil || time.Now().After(deadline) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// isStorageController matches a PCI mass storage controller (class 01:
// SATA, NVMe, SCSI, virtio-blk's transitional ID is class 01 too).
func isStorageController(ma string) bool {
	return strings.HasPrefix(ma, "pci:") && strings.Contains(ma, "bc01")
}

// pciDevice is a PCI device: its modalias and its directory in
// /sys/devices.
type pciDevice struct{ modalias, dir string }

// pciDevices are the PCI devices whose modalias matches.
func pciDevices(match func(string) bool) []pciDevice {
	var out []pciDevice
	paths, _ := filepath.Glob("/sys/bus/pci/devices/*/modalias")
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if ma := strings.TrimSpace(string(b)); err == nil && match(ma) {
			dir, _ := filepath.EvalSymlinks(filepath.Dir(path))
			out = append(out, pciDevice{ma, dir})
		}
	}
	return out
}

// dirs are the devices' directories, where known.
func dirs(devs []pciDevice) []string {
	var out []string
	for _, d := range devs {
		if d.dir != "" {
			out = append(out, d.dir)
		}
	}
	return out
}

// applyModules is the apply's module stage: the config's extra modules
// (the boot's again, should their load have failed), and what its guests
// and containers need. Devices are not scanned again: hotplug has
// listened since the boot's scan.
func (p *pid1) applyModules(extra []string, needs box.ModuleNeeds) error {
	start := time.Now()
	l, err := p.modules.theLoader()
	if err != nil {
		return err
	}
	names := append(bootModules(), extra...)
	if needs.VMs || needs.Containers {
		names = append(names, workloadModules...)
	}
	loaded, errs := l.Load(names)
	if needs.VMs {
		cpu, cerr := p.loadCPUDrivers()
		loaded = append(loaded, cpu...)
		errs = append(errs, cerr)
		openVMDevices()
	}
	if len(loaded) > 0 {
		sort.Strings(loaded)
		Logf("modules: loaded %d in %d ms: %s", len(loaded), time.Since(start).Milliseconds(), strings.Join(loaded, " "))
	}
	return errors.Join(errs...)
}

// loadCPUDrivers loads the drivers the CPU's modalias matches (KVM).
// Their failure is a warning, as in coldplug: a CPU without
// virtualization runs guests under TCG.
func (p *pid1) loadCPUDrivers() ([]string, error) {
	l, err := p.modules.theLoader()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(cpuModalias)
	if err != nil {
		return nil, nil // no CPU modalias: nothing to match
	}
	loaded, errs := l.LoadFor(strings.TrimSpace(string(b)))
	for _, e := range errs {
		Logf("modules: warning: CPU driver: %v", e)
	}
	return loaded, nil
}

// loadDeferredModules loads, after ready, what the boot left out: the
// box then has the same modules whatever its config.
func (p *pid1) loadDeferredModules() {
	safe.Go(Logf, "modules", func() {
		start := time.Now()
		l, err := p.modules.theLoader()
		if err != nil {
			return
		}
		loaded, errs := l.Load(workloadModules)
		for _, e := range errs {
			Logf("modules: warning: after ready: %v", e)
		}
		cpu, _ := p.loadCPUDrivers()
		if loaded = append(loaded, cpu...); len(loaded) > 0 {
			sort.Strings(loaded)
			Logf("modules: after ready: loaded %d in %d ms: %s", len(loaded), time.Since(start).Milliseconds(), strings.Join(loaded, " "))
		}
	})
}

// loadNamedModules loads modules a feature needs on demand (a filesystem
// before mounting it), with their dependencies.
func (p *pid1) loadNamedModules(names ...string) ([]string, error) {
	l, err := p.modules.theLoader()
	if err != nil {
		return nil, err
	}
	loaded, errs := l.Load(names)
	return loaded, errors.Join(errs...)
}
