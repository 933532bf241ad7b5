package boot

import (
	"errors"
	"fmt"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/boot/slot"
)

// theSlot is the boot loader entry this boot came from, kept for the API.
var theSlot *slot.Slot

// detectBootSlot reads the boot loader's variables into the slot this
// boot keeps.
func detectBootSlot() *slot.Slot {
	opts := slot.Options{
		Logf: func(f string, a ...any) { Logf("upgrade: "+f, a...) },
		LoadModules: func(names ...string) error {
			_, err := loadNamedModules(names...)
			return err
		},
		Reboot: func(reason string) { Shutdown(Reboot, reason) },
	}
	if cl, err := ReadCmdline(); err == nil {
		if v, ok := cl.Get("nucbox.trial-timeout"); ok {
			if d, err := time.ParseDuration(v); err == nil && d > 0 {
				opts.TrialTimeout = d
			}
		}
	}
	theSlot = slot.Detect(opts)
	return theSlot
}

// Upgrade writes the unified kernel image data into the slot the box is
// not running from; see slot.Slot.Upgrade.
func Upgrade(data []byte, tries int) (api.UpgradeResult, error) {
	r, err := theSlot.Upgrade(data, tries)
	var refused *slot.RefusedError
	if errors.As(err, &refused) {
		kind := map[error]error{slot.ErrNoSlots: api.ErrNoSlots, slot.ErrOnTrial: api.ErrBusy, slot.ErrBadImage: api.ErrBadImage}[refused.Reason]
		return api.UpgradeResult{}, fmt.Errorf("%w: %s", kind, refused.Detail)
	}
	return api.UpgradeResult{From: r.From, Slot: r.Slot, File: r.File, Generation: r.Generation,
		Version: r.Version, Tries: r.Tries, Bytes: r.Bytes}, err
}

// slotState is the status's account of the boot slot.
func slotState() *api.SlotState {
	st, ok := theSlot.State()
	if !ok {
		return nil
	}
	return &api.SlotState{Slot: st.Slot, Generation: st.Generation, Version: st.Version, Trial: st.Trial, RolledBack: st.RolledBack}
}
