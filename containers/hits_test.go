package containers

import (
	"os"
	"path/filepath"
	"testing"
)

// A container's limit counts carry over its runs: endHits, run before
// the run's cgroup goes, keeps them, and Hits adds the running group's;
// the limits come from the spec until a group has them.
func TestSupervisorHitsAddUpRuns(t *testing.T) {
	s := &Supervisor{ct: Spec{Name: "bomb", Memory: 1 << 30, PIDs: 1024}}
	dir := filepath.Join(t.TempDir(), "bomb")
	events := func(forks string) {
		t.Helper()
		os.MkdirAll(dir, 0o755)
		for f, v := range map[string]string{"pids.max": "1024\n", "pids.events": "max " + forks + "\n"} {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if h := s.Hits(); h.PIDs.Max != 0 || h.PIDs.Limit != 1024 || h.Memory.Limit != 1<<30 {
		t.Errorf("before a run: %+v", h)
	}
	events("100")
	s.cgDir = dir
	if h := s.Hits(); h.PIDs.Max != 100 {
		t.Errorf("first run: %+v", h)
	}
	s.endHits()
	os.RemoveAll(dir)
	if h := s.Hits(); h.PIDs.Max != 100 {
		t.Errorf("after the first run: %+v", h)
	}
	events("5")
	s.cgDir = dir
	if h := s.Hits(); h.PIDs.Max != 105 {
		t.Errorf("second run: %+v, want 105", h)
	}
}
