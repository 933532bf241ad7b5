package box

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/workload"
	"github.com/nucbox/nucbox/internal/cgroup"
)

// One line when a count rises, naming the workload and the limit; then
// quiet for limitsQuiet however often it rises, then one line with what
// rose meanwhile; nothing for counts that stay; entries of workloads
// that left go.
func TestLimitWatchLogs(t *testing.T) {
	var lines []string
	w := newLimitWatch(func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) })
	t0 := time.Unix(1000, 0)
	hog := func(max, kills int64) limitSubject {
		var h cgroup.Hits
		h.Memory.Limit, h.Memory.Max, h.Memory.OOMKill = 1<<30, max, kills
		return limitSubject{"container hog", h}
	}
	bomb := func(forks int64) limitSubject {
		var h cgroup.Hits
		h.PIDs.Limit, h.PIDs.Max = 1024, forks
		return limitSubject{"container bomb", h}
	}
	canary := limitSubject{"container canary", cgroup.Hits{}}

	w.observe(t0, []limitSubject{hog(0, 0), bomb(0), canary})
	if len(lines) != 0 {
		t.Fatalf("lines for counts of zero: %q", lines)
	}
	w.observe(t0.Add(2*time.Second), []limitSubject{hog(10, 1), bomb(500), canary})
	want := []string{
		"container hog: memory limit 1GiB hit, 1 process OOM-killed (in all: reached 10 times, 1 OOM kills)",
		"container bomb: pids limit 1024 hit, 500 forks refused (in all: 500)",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("first rise:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	lines = nil
	for i := 2; i < 15; i++ {
		w.observe(t0.Add(time.Duration(2*i)*time.Second), []limitSubject{hog(10+int64(i), 1), bomb(500 + 100*int64(i)), canary})
	}
	if len(lines) != 0 {
		t.Fatalf("lines within %v of the last: %q", limitsQuiet, lines)
	}
	w.observe(t0.Add(40*time.Second), []limitSubject{hog(30, 1), bomb(2500), canary})
	want = []string{
		"container hog: memory limit 1GiB hit (20 times), reclaiming (in all: reached 30 times, 1 OOM kills)",
		"container bomb: pids limit 1024 hit, 2000 forks refused (in all: 2500)",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after the quiet time:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	lines = nil
	w.observe(t0.Add(80*time.Second), []limitSubject{hog(30, 1), bomb(2500)})
	if len(lines) != 0 {
		t.Errorf("lines for counts that stayed: %q", lines)
	}
	if len(w.seen) != 4 {
		t.Errorf("%d entries for 2 workloads with 2 limits each", len(w.seen))
	}
	// A workload made anew counts from zero: no line for the drop, one
	// for its next rise.
	w.observe(t0.Add(82*time.Second), []limitSubject{hog(0, 0)})
	w.observe(t0.Add(120*time.Second), []limitSubject{hog(3, 0)})
	if len(lines) != 1 || !strings.Contains(lines[0], "hit (3 times)") {
		t.Errorf("a workload made anew: %q", lines)
	}
	if len(w.seen) != 2 {
		t.Errorf("%d entries after bomb left, want 2 (hog's)", len(w.seen))
	}
	// An OOM kill without the workload's own limit reached names no
	// limit as hit.
	lines = nil
	w.observe(t0.Add(160*time.Second), []limitSubject{hog(3, 2)})
	if want := "container hog: 2 processes OOM-killed below its memory limit 1GiB (in all: 2 OOM kills)"; len(lines) != 1 || lines[0] != want {
		t.Errorf("a kill by a limit above the workload's: %q, want %q", lines, want)
	}
}

func TestLimitSizes(t *testing.T) {
	for n, want := range map[int64]string{0: "max", 1 << 30: "1GiB", 64 << 20: "64MiB", 1000: "1000 bytes"} {
		if got := size(n); got != want {
			t.Errorf("size(%d) = %q, want %q", n, got, want)
		}
	}
}

// The API's workload carries the pool's limit counts as they are.
func TestAPIWorkloadLimits(t *testing.T) {
	var h cgroup.Hits
	h.PIDs.Limit, h.PIDs.Max = 1024, 9
	w := apiWorkload(workload.Status{Kind: "container", Name: "bomb", Limits: &h})
	if w.Limits == nil || w.Limits.PIDs.Max != 9 || w.Limits.PIDs.Limit != 1024 {
		t.Errorf("API workload limits %+v, want the status's", w.Limits)
	}
	if w := apiWorkload(workload.Status{Kind: "vm", Name: "g"}); w.Limits != nil {
		t.Errorf("a workload without limits got %+v", w.Limits)
	}
}
