package vmm

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkVMStart is the start overhead of the supervisor: from Start
// (what apply calls) to QMP "running", next to the same QEMU command
// started by hand in the same run (exec, wait for the QMP socket,
// handshake, cont, query-status). Rounds alternate so that both see the
// same machine load; the medians and their ratio are reported (goal: a
// ratio of 1.05 or less).
func BenchmarkVMStart(b *testing.B) {
	hostTier(b, false)
	const rounds = 15
	s := tinySpec(b, "")
	s.Disks, s.CloudInit = nil, nil
	s.AccelMode = "tcg"
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var guest, hand []time.Duration
	for b.Loop() {
		for range rounds {
			g := NewGuest(s, Options{Log: quiet})
			start := time.Now()
			if err := g.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			guest = append(guest, time.Since(start))
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			g.Stop(ctx)
			cancel()

			d, err := startByHand(s)
			if err != nil {
				b.Fatal(err)
			}
			hand = append(hand, d)
		}
	}
	slices.Sort(guest)
	slices.Sort(hand)
	mg, mh := guest[len(guest)/2], hand[len(hand)/2]
	b.ReportMetric(float64(mg.Microseconds())/1000, "ms-supervised")
	b.ReportMetric(float64(mh.Microseconds())/1000, "ms-by-hand")
	b.ReportMetric(float64(mg)/float64(mh), "ratio")
	b.Logf("start to QMP running, median of %d: supervised %v, by hand %v, ratio %.3f",
		len(guest), mg.Round(time.Millisecond), mh.Round(time.Millisecond), float64(mg)/float64(mh))
}

// startByHand runs Cmdline's QEMU directly and returns the time from exec
// to QMP "running".
func startByHand(s Spec) (time.Duration, error) {
	s.Accel = TCG
	dir, err := os.MkdirTemp("", "nucbox-bench-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	s.StateDir = dir
	os.MkdirAll(s.Paths().Dir, 0o755)
	args, err := Cmdline(s)
	if err != nil {
		return 0, err
	}
	cmd := exec.Command("qemu-system-x86_64", args...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() { cmd.Process.Kill(); <-exited }()
	m, err := dialQMP(context.Background(), filepath.Join(s.Paths().Dir, "qmp.sock"), exited, 10*time.Second, nil)
	if err != nil {
		return 0, err
	}
	defer m.close()
	if err := m.run(context.Background(), "cont", nil, nil); err != nil {
		return 0, err
	}
	if _, err := m.status(context.Background()); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
