package boot

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWaitBound: the NIC step waits for a driver that is still binding
// (loaded by hotplug for another device), and not for one that never
// comes.
func TestWaitBound(t *testing.T) {
	dir := t.TempDir()
	go func() {
		time.Sleep(50 * time.Millisecond)
		_ = os.Symlink("../../bus/pci/drivers/virtio-pci", filepath.Join(dir, "driver"))
	}()
	start := time.Now()
	waitBound(dir, 5*time.Second)
	if d := time.Since(start); d < 40*time.Millisecond || d > 2*time.Second {
		t.Errorf("waited %v for a driver bound after 50ms", d)
	}
	if _, err := os.Lstat(filepath.Join(dir, "driver")); err != nil {
		t.Errorf("returned before the driver was bound: %v", err)
	}
	start = time.Now()
	waitBound(t.TempDir(), 100*time.Millisecond)
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Errorf("waited %v for a driver that never binds, want the 100ms bound", d)
	}
}
