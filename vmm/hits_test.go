package vmm

import (
	"os"
	"path/filepath"
	"testing"
)

// A guest's limit counts carry over its restarts: endHits, run as
// QEMU's group goes, keeps the run's counts, and Hits adds the running
// group's. Without a running group the group's files are not read.
func TestGuestHitsAddUpRuns(t *testing.T) {
	root := t.TempDir()
	s := Spec{Name: "a", Cgroup: "w/vm-a", MemoryMax: 768 << 20}
	g := NewGuest(s, Options{CgroupRoot: root})
	dir := filepath.Join(root, s.Cgroup)
	events := func(max, kills string) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, v := range map[string]string{"memory.max": "805306368\n",
			"memory.events": "low 0\nhigh 0\nmax " + max + "\noom 0\noom_kill " + kills + "\n"} {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	events("9", "9")
	if h := g.Hits(); h.Memory.Max != 0 || h.Memory.Limit != 768<<20 {
		t.Errorf("before a run: %+v, want no counts and the spec's limit", h)
	}
	g.cgLive = true
	events("3", "1")
	if h := g.Hits(); h.Memory.Max != 3 || h.Memory.OOMKill != 1 {
		t.Errorf("first run: %+v", h)
	}
	g.endHits()
	os.RemoveAll(dir)
	if h := g.Hits(); h.Memory.Max != 3 || h.Memory.OOMKill != 1 {
		t.Errorf("after the first run: %+v", h)
	}
	g.cgLive = true
	events("2", "1")
	if h := g.Hits(); h.Memory.Max != 5 || h.Memory.OOMKill != 2 {
		t.Errorf("second run: %+v, want the first run's counts added", h)
	}
}
