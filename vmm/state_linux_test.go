package vmm

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestStateDirWarning(t *testing.T) {
	var st unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &st); err == nil && st.Type == unix.TMPFS_MAGIC {
		if w := StateDirWarning("/dev/shm/nucbox/not/yet"); !strings.Contains(w, "will not survive a reboot") {
			t.Errorf("tmpfs: %q", w)
		}
	}
	dir := t.TempDir()
	if err := unix.Statfs(dir, &st); err == nil && st.Type != unix.TMPFS_MAGIC && st.Type != unix.RAMFS_MAGIC {
		if w := StateDirWarning(dir); w != "" {
			t.Errorf("persistent %s: %q", dir, w)
		}
	}
}
