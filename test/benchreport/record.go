package benchreport

import (
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Record saves a benchmark's figures under name in Dir and logs each
// with its verdict, so that a run read on its own says what it measured.
func Record(tb testing.TB, name string, figs ...Figure) {
	tb.Helper()
	dir, err := Dir()
	if err != nil {
		tb.Fatal(err)
	}
	if err := Save(dir, name, figs...); err != nil {
		tb.Fatal(err)
	}
	for _, f := range figs {
		f.Evaluate()
		tb.Logf("%s %s [%s]: ours %s %s, %s %s %s, ratio %.3f, goal %s: %s", f.ID, f.Name, f.Load, f.OursStats, f.Unit,
			f.Baseline, f.BaseStats, f.Unit, f.Ratio, f.Goal, f.Status)
	}
}

// BurnCPU keeps one core busy with a shell loop until stop is called: the
// "under load" rows. With cpu >= 0 the loop is bound to that CPU, so that
// it competes with work bound there; with cpu < 0 the scheduler places it.
func BurnCPU(tb testing.TB, cpu int) (stop func()) {
	tb.Helper()
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	// A benchmark that fails midway must not leave the core busy.
	tb.Cleanup(stop)
	if cpu >= 0 {
		var one unix.CPUSet
		one.Set(cpu)
		if err := unix.SchedSetaffinity(cmd.Process.Pid, &one); err != nil && runtime.NumCPU() > 1 {
			stop()
			tb.Fatalf("binding the CPU burner to CPU %d: %v", cpu, err)
		}
	}
	return stop
}

// Ms is a duration in milliseconds, as the table shows times.
func Ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
