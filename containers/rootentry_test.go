package containers

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// The runtime says once how its containers enter their rootfs, so that a
// box on the chroot fallback cannot pass for one that uses pivot_root.
func TestRuntimeLogsRootfsEntry(t *testing.T) {
	for _, tc := range []struct {
		noPivot bool
		want    string
		notWant string
	}{
		{false, "level=INFO msg=\"rootfs entry: pivot_root\"", "chroot"},
		{true, "level=WARN msg=\"rootfs entry: chroot, not pivot_root\" why=\"NoPivotRoot is set\"", "msg=\"rootfs entry: pivot_root\""},
	} {
		var b bytes.Buffer
		dir := t.TempDir()
		noPivot := tc.noPivot
		r, err := New(Options{StateDir: filepath.Join(dir, "state"), RunDir: filepath.Join(dir, "run"),
			Logger: slog.New(slog.NewTextHandler(&b, nil)), NoPivotRoot: &noPivot})
		if err != nil {
			t.Fatal(err)
		}
		if r.noPivot != tc.noPivot {
			t.Errorf("NoPivotRoot %v: runtime noPivot %v", tc.noPivot, r.noPivot)
		}
		if !strings.Contains(b.String(), tc.want) || strings.Contains(b.String(), tc.notWant) {
			t.Errorf("NoPivotRoot %v: log\n%s\nwant %s", tc.noPivot, b.String(), tc.want)
		}
	}
}
