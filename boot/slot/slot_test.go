package slot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseBootEntry(t *testing.T) {
	for _, tc := range []struct {
		entry, count string
		slot, path   string
		trial        bool
	}{
		{"nucbox-a.efi", "", "a", `\EFI\Linux\nucbox-a.efi`, false},
		{"nucbox-b.efi", `\EFI\Linux\nucbox-b+2-1.efi`, "b", `\EFI\Linux\nucbox-b+2-1.efi`, true},
		// Some loader versions keep the counter in the entry id.
		{"nucbox-b+0-3.efi", "", "b", `\EFI\Linux\nucbox-b+0-3.efi`, true},
		{"NUCBOX-A.EFI", "", "a", `\EFI\Linux\NUCBOX-A.EFI`, false},
		{"debian-6.1.efi", "", "", "", false},
		{"", "", "", "", false},
		{"auto-efi-shell", "", "", "", false},
	} {
		var s Slot
		parseBootEntry(&s, tc.entry, tc.count)
		if s.Name != tc.slot || s.Path != tc.path || s.Trial != tc.trial {
			t.Errorf("%q, %q: slot %q path %q trial %v; want %q %q %v", tc.entry, tc.count, s.Name, s.Path, s.Trial, tc.slot, tc.path, tc.trial)
		}
	}
}

func TestSlotFile(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"nucbox-a.efi", "nucbox-b+0-3.efi", "other.efi"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o600)
	}
	if f, left := slotFile(dir, "a"); f != "nucbox-a.efi" || left != -1 {
		t.Errorf("slot a: %q, %d", f, left)
	}
	if f, left := slotFile(dir, "b"); f != "nucbox-b+0-3.efi" || left != 0 {
		t.Errorf("slot b: %q, %d", f, left)
	}
	os.Remove(filepath.Join(dir, "nucbox-a.efi"))
	if f, _ := slotFile(dir, "a"); f != "" {
		t.Errorf("slot a after removal: %q", f)
	}
}

// TestUpgradeRefused: what cannot be an upgrade is refused before the ESP
// is touched, with the reason a caller can tell apart.
func TestUpgradeRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		s      *Slot
		image  []byte
		tries  int
		reason error
		detail string
	}{
		{"no slot", nil, []byte("x"), 0, ErrNoSlots, "no slot to write"},
		{"not booted from a slot", &Slot{}, []byte("x"), 0, ErrNoSlots, "PXE or a direct kernel boot"},
		{"on trial", &Slot{Name: "b", Trial: true}, []byte("x"), 0, ErrOnTrial, "slot b is still on trial"},
		{"not an image", &Slot{Name: "a"}, []byte("not a PE file"), 2, ErrBadImage, "not a unified kernel image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.s.Upgrade(tc.image, tc.tries)
			var r *RefusedError
			if !errors.As(err, &r) || r.Reason != tc.reason || !errors.Is(err, tc.reason) || !strings.Contains(r.Detail, tc.detail) {
				t.Errorf("Upgrade = %v; want %v with %q", err, tc.reason, tc.detail)
			}
		})
	}
	if _, err := (&Slot{Name: "a"}).Upgrade([]byte("x"), 10); err == nil || !strings.Contains(err.Error(), "want 1 to 9") {
		t.Errorf("tries 10: %v", err)
	}
	// A slot that finished its trial may be upgraded again.
	s := &Slot{Name: "b", Trial: true}
	s.finish()
	if _, err := s.Upgrade([]byte("x"), 0); !errors.Is(err, ErrBadImage) {
		t.Errorf("after the trial: %v", err)
	}
	if st, ok := s.State(); !ok || st.Slot != "b" || st.Trial {
		t.Errorf("State = %+v, %v", st, ok)
	}
	if _, ok := (&Slot{}).State(); ok {
		t.Error("a box without slots reports one")
	}
}
