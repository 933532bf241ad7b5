package cgroup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for f, v := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The files as a 6.1 kernel writes them: a leaf's memory.events, a
// parent's own limit in memory.events.local, pids.events; limits of
// "max" are none.
func TestReadHits(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"memory.max":          "1073741824\n",
		"pids.max":            "max\n",
		"memory.events":       "low 0\nhigh 0\nmax 1234\noom 2\noom_kill 1\noom_group_kill 0\n",
		"memory.events.local": "low 0\nhigh 0\nmax 5\noom 0\noom_kill 0\noom_group_kill 0\n",
		"pids.events":         "max 77\n",
	})
	h, err := ReadHits(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	want := Hits{Memory: MemoryHits{Limit: 1 << 30, Max: 1234, OOM: 2, OOMKill: 1}, PIDs: PIDsHits{Max: 77}}
	if h != want {
		t.Errorf("ReadHits = %+v, want %+v", h, want)
	}
	if !h.Any() {
		t.Error("Any() false with counters above zero")
	}
	if h, err = ReadHits(dir, true); err != nil || h.Memory.Max != 5 || h.Memory.OOMKill != 0 {
		t.Errorf("ReadHits local = %+v, %v; want memory.events.local's max 5", h, err)
	}

	// A group with neither controller: no limits, no counts, no error.
	bare := t.TempDir()
	if h, err := ReadHits(bare, false); err != nil || h != (Hits{}) || h.Any() {
		t.Errorf("a group without controllers: %+v, %v", h, err)
	}
	if _, err := ReadHits(filepath.Join(bare, "gone"), false); err == nil {
		t.Error("a group that is gone read without an error")
	}

	// Runs add up; the limit is the last run's.
	sum := want.Add(Hits{Memory: MemoryHits{Limit: 2 << 30, OOMKill: 3}, PIDs: PIDsHits{Limit: 1024, Max: 1}})
	if sum.Memory.OOMKill != 4 || sum.Memory.Max != 1234 || sum.PIDs.Max != 78 || sum.Memory.Limit != 2<<30 || sum.PIDs.Limit != 1024 {
		t.Errorf("Add = %+v", sum)
	}

	for _, bad := range []string{"max\n", "max -1\n", "max 1 2\n", "max x\n"} {
		writeFiles(t, dir, map[string]string{"pids.events": bad})
		if _, err := ReadHits(dir, false); err == nil || !strings.Contains(err.Error(), "pids.events:1") {
			t.Errorf("pids.events %q: %v, want an error naming the file and line", bad, err)
		}
	}
}
