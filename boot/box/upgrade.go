package box

import (
	"errors"
	"fmt"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/boot/slot"
)

// Upgrade writes the unified kernel image data into the slot the box is
// not running from; see slot.Slot.Upgrade.
func (b *Box) Upgrade(data []byte, tries int) (api.UpgradeResult, error) {
	r, err := b.o.Slot.Upgrade(data, tries)
	var refused *slot.RefusedError
	if errors.As(err, &refused) {
		kind := map[error]error{slot.ErrNoSlots: api.ErrNoSlots, slot.ErrOnTrial: api.ErrBusy, slot.ErrBadImage: api.ErrBadImage, slot.ErrNotTrusted: api.ErrUntrusted, slot.ErrGeneration: api.ErrGeneration}[refused.Reason]
		return api.UpgradeResult{}, fmt.Errorf("%w: %s", kind, refused.Detail)
	}
	return api.UpgradeResult{From: r.From, Slot: r.Slot, File: r.File, Generation: r.Generation,
		Version: r.Version, Tries: r.Tries, Bytes: r.Bytes}, err
}

// slotState is the status's account of the boot slot.
func (b *Box) slotState() *api.SlotState {
	st, ok := b.o.Slot.State()
	if !ok {
		return nil
	}
	return &api.SlotState{Slot: st.Slot, Generation: st.Generation, Version: st.Version, Trial: st.Trial, RolledBack: st.RolledBack}
}
