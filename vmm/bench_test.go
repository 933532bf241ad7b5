package vmm

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/benchreport"
)

// BenchmarkVMStart (P3 of `make bench`) is the start overhead of the
// supervisor: from Start (what apply calls for each VM) to QMP "running",
// next to the same QEMU command line (vmm.Cmdline of the same spec)
// started by hand in the same run: exec, wait for the QMP socket,
// handshake, cont, query-status. Rounds alternate which side goes first
// so that both see the same machine load. Goal: a ratio of medians of
// 1.05 or less.
//
//	make bench, or: go test -tags netgo,osusergo,seccomp -run '^$' -bench VMStart ./vmm
func BenchmarkVMStart(b *testing.B) {
	hostTier(b, false)
	const rounds = 15
	s := tinySpec(b, "")
	s.Disks, s.CloudInit = nil, nil
	s.AccelMode = "tcg"
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var guest, hand []float64
	supervised := func() {
		g := NewGuest(s, Options{Log: quiet})
		start := time.Now()
		if err := g.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		guest = append(guest, ms(time.Since(start)))
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		g.Stop(ctx)
		cancel()
	}
	byHand := func() {
		d, err := startByHand(s)
		if err != nil {
			b.Fatal(err)
		}
		hand = append(hand, ms(d))
	}
	for i := range rounds {
		if i%2 == 0 {
			supervised()
			byHand()
		} else {
			byHand()
			supervised()
		}
	}
	f := benchreport.Figure{ID: "P3", Name: "VM start: Start (apply's call) → QMP running", Unit: "ms", Load: "idle",
		Ours: guest, Baseline: "same qemu command line by hand", BaseSamples: hand, Goal: benchreport.AtMostRatio(1.05),
		Note: fmt.Sprintf("host tier, TCG, tiny busybox guest (256 MiB, no disks), %d rounds alternating which side starts first", rounds)}
	dir, err := benchreport.Dir()
	if err != nil {
		b.Fatal(err)
	}
	if err := benchreport.Save(dir, "p3-vm", f); err != nil {
		b.Fatal(err)
	}
	f.Evaluate()
	b.Logf("%s %s: supervised %s ms, by hand %s ms, ratio %.3f, goal %s: %s", f.ID, f.Name, f.OursStats, f.BaseStats, f.Ratio, f.Goal, f.Status)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

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
