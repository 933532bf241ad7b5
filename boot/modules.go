package boot

import (
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nucbox/nucbox/internal/kmod"
)

// kernelModules is PID 1's one module loader, over the image's module
// database, opened on first use. Hotplug listens from the first load on.
var kernelModules struct {
	sync.Mutex
	loader  *kmod.Loader
	hotplug bool
}

func moduleLoader() (*kmod.Loader, error) {
	kernelModules.Lock()
	defer kernelModules.Unlock()
	if kernelModules.loader == nil {
		db, err := kmod.Open(kmod.RunningDir())
		if err != nil {
			return nil, err
		}
		kernelModules.loader = kmod.NewLoader(db, func(f string, a ...any) { Logf("modules: "+f, a...) })
	}
	return kernelModules.loader, nil
}

// startHotplug opens the uevent socket once; it goes before the coldplug
// scan so that no device falls between the scan and the first event.
func startHotplug(l *kmod.Loader) {
	kernelModules.Lock()
	defer kernelModules.Unlock()
	if kernelModules.hotplug {
		return
	}
	kernelModules.hotplug = true
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

// loadModules loads the base modules, the extra ones the config names and
// the drivers coldplug finds for the devices present. A requested module
// that is missing or fails is an error; a coldplug driver that fails is
// only a warning, because a device the box does not use must not keep it
// from booting.
func loadModules(extra []string) (count int, err error) {
	start := time.Now()
	kmod.SetModprobeHelper()
	l, err := moduleLoader()
	if err != nil {
		return 0, err
	}
	startHotplug(l)
	loaded, reqErrs := l.Load(append(kmod.BaseModules(), extra...))
	hw, hwWarn := l.Coldplug()
	// button and evdev are base modules: the power button exists now.
	watchPowerButtons()
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

// loadNamedModules loads modules a feature needs on demand (a filesystem
// before mounting it), with their dependencies.
func loadNamedModules(names ...string) ([]string, error) {
	l, err := moduleLoader()
	if err != nil {
		return nil, err
	}
	loaded, errs := l.Load(names)
	return loaded, errors.Join(errs...)
}

// loadedModules returns the modules the kernel has loaded now.
func loadedModules() map[string]bool { return kmod.Loaded() }
