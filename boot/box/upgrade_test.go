package box

import (
	"errors"
	"testing"

	"github.com/nucbox/nucbox/boot/api"
)

// TestUpgradeWithoutSlot: a box that did not boot from a slot answers the
// API's upgrade with the API's reason, and its status shows no slot.
func TestUpgradeWithoutSlot(t *testing.T) {
	b := New(Options{Stages: []Stage{}})
	_, err := b.Upgrade([]byte("image"), 0)
	if !errors.Is(err, api.ErrNoSlots) {
		t.Errorf("Upgrade = %v, want api.ErrNoSlots", err)
	}
	const want = "no boot slots: this box did not boot from a nucbox disk through its boot loader (PXE or a direct kernel boot?), so there is no slot to write"
	if err == nil || err.Error() != want {
		t.Errorf("Upgrade = %v\nwant %s", err, want)
	}
	if st := b.slotState(); st != nil {
		t.Errorf("slotState = %+v", st)
	}
}
