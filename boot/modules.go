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

// loadModules loads the base modules, the extra ones the config names and
// the drivers coldplug finds for the devices present. A requested module
// that is missing or fails is an error; a coldplug driver that fails is
// only a warning, because a device the box does not use must not keep it
// from booting.
func (p *pid1) loadModules(extra []string) (count int, err error) {
	start := time.Now()
	kmod.SetModprobeHelper()
	l, err := p.modules.theLoader()
	if err != nil {
		return 0, err
	}
	p.modules.startHotplug(l)
	loaded, reqErrs := l.Load(append(kmod.BaseModules(), extra...))
	hw, hwWarn := l.Coldplug()
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
