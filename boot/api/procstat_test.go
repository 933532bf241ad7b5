package api

import (
	"os"
	"path/filepath"
	"testing"
)

func TestProcUsage(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "42"), 0o755)
	// A command name with a space and a parenthesis, as QEMU's -name can
	// make it.
	stat := "42 (qemu (vm) x) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 100 123456789 1000 18446744073709551615\n"
	os.WriteFile(filepath.Join(dir, "42", "stat"), []byte(stat), 0o644)
	cpu, rss, err := procUsage(dir, 42)
	if err != nil {
		t.Fatal(err)
	}
	if cpu != 3 || rss != 1000*int64(os.Getpagesize()) {
		t.Errorf("cpu %v rss %v, want 3 s and 1000 pages", cpu, rss)
	}
	if _, _, err := procUsage(dir, 43); err == nil {
		t.Error("missing process: no error")
	}
	if _, _, err := procUsage("/proc", os.Getpid()); err != nil {
		t.Errorf("own process: %v", err)
	}
}
