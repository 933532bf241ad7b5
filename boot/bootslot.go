package boot

import (
	"time"

	"github.com/nucbox/nucbox/boot/slot"
)

// detectBootSlot reads the boot loader's variables into the slot this
// boot keeps: the A/B slot it came from and whether it is a trial boot.
func (p *pid1) detectBootSlot() *slot.Slot {
	opts := slot.Options{
		Logf: func(f string, a ...any) { Logf("upgrade: "+f, a...) },
		LoadModules: func(names ...string) error {
			_, err := p.loadNamedModules(names...)
			return err
		},
		Reboot: func(reason string) { p.shutdown(Reboot, reason) },
	}
	if cl, err := ReadCmdline(); err == nil {
		if v, ok := cl.Get("nucbox.trial-timeout"); ok {
			if d, err := time.ParseDuration(v); err == nil && d > 0 {
				opts.TrialTimeout = d
			}
		}
	}
	return slot.Detect(opts)
}
