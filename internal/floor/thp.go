package floor

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// THPDir is the kernel's transparent huge page settings.
const THPDir = "/sys/kernel/mm/transparent_hugepage"

// HugePagesOnRequest gives transparent huge pages only to the memory a
// process asks them for (madvise), instead of to any anonymous memory
// (Debian's kernel default, always). QEMU asks them for its guests' RAM,
// which keeps them; PID 1's Go heap did not ask and got them anyway: with
// 120 workloads 11 MiB of heap in use sat in 38 MiB of huge pages, and
// PID 1's RSS was 64 MiB instead of about 46 (make bench, P6c). The Go
// runtime leaves this setting to the system's operator, which on the box
// is PID 1. A kernel without THP has no such directory: nothing to do.
func HugePagesOnRequest(dir string) error {
	path := filepath.Join(dir, "enabled")
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("transparent huge pages: %w", err)
	}
	if strings.Contains(string(b), "[madvise]") || strings.Contains(string(b), "[never]") {
		return nil
	}
	if err := os.WriteFile(path, []byte("madvise"), 0o644); err != nil {
		return fmt.Errorf("transparent huge pages to madvise: %w", err)
	}
	return nil
}
