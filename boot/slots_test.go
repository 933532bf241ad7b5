package boot

import (
	"os"
	"path/filepath"
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
		var s bootSlot
		parseBootEntry(&s, tc.entry, tc.count)
		if s.Slot != tc.slot || s.Path != tc.path || s.Trial != tc.trial {
			t.Errorf("%q, %q: slot %q path %q trial %v; want %q %q %v", tc.entry, tc.count, s.Slot, s.Path, s.Trial, tc.slot, tc.path, tc.trial)
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
