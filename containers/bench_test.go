package containers

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/runc/libcontainer/seccomp"

	"github.com/nucbox/nucbox/test/ci"
)

// BenchmarkContainerStart times a start, from the call to the first
// process running, through nucbox (rootfs mount, libcontainer create and
// start) and through `runc run -d` of the same bundle (the same runtime
// spec, with the image flattened into a plain directory), alternating
// the two in one run, and reports the ratio (goal: at most 0.8).
//
// Each start, nucbox's and runc's alike, begins after the same pause
// (settle, timer stopped) following the previous one. Without it each
// start would inherit kernel state from the start just before: moving a
// process into a cgroup is slow (an RCU grace period, 4 to 16 ms here)
// only when no other move happened within the last grace period, so
// whichever side ran right after the other often skipped the wait. With
// the pause both start from an idle box, as a start does on an appliance
// that is not starting other containers at that moment.
//
// The two are measured at their own end points: `runc run -d` returns
// once the container's init has taken its go-ahead, a moment before the
// program's exec; nucbox waits until the program has replaced the init.
//
//	go test -run '^$' -bench ContainerStart ./containers
func BenchmarkContainerStart(b *testing.B) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		ci.Missing(b, "runc not installed (apt-get install runc, part of make deps): the baseline of the benchmark")
	}
	r := newRuntime(b, nil)
	img, _ := pullBusybox(b, r)
	ct := spec(ctName(b, "bench"), Source{}, "sleep", "1000")

	// The runc bundle: the same spec, the rootfs flattened.
	bundle := b.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	f, err := os.Open(filepath.Join(img.Layers[0], "bin/busybox"))
	if err != nil {
		b.Fatal(err)
	}
	f.Close()
	if err := exec.Command("cp", "-a", img.Layers[0], rootfs).Run(); err != nil {
		b.Fatal(err)
	}
	if err := writeEtc(rootfs, ct.Name, false); err != nil {
		b.Fatal(err)
	}
	s, err := RuntimeSpec(RunSpec{ID: ct.Name + "-runc", Hostname: ct.Name, Container: ct, Image: img.Config.Config,
		Rootfs: rootfs, Seccomp: seccomp.Enabled})
	if err != nil {
		b.Fatal(err)
	}
	js, err := json.Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), js, 0o644); err != nil {
		b.Fatal(err)
	}
	runcRoot := b.TempDir()
	runcOut, err := os.Create(filepath.Join(b.TempDir(), "runc.out"))
	if err != nil {
		b.Fatal(err)
	}
	defer runcOut.Close()

	lg, err := OpenLog(filepath.Join(b.TempDir(), "log"), 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer lg.Close()
	var ours, theirs time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		time.Sleep(settle)
		b.StartTimer()
		start := time.Now()
		in, err := r.Create(ct, img, lg, i == 0)
		if err == nil {
			err = in.Start(b.Context())
		}
		ours += time.Since(start)
		if err != nil {
			b.Fatalf("nucbox start: %v\n%s", err, lg.Tail())
		}
		b.StopTimer()
		in.kill()
		if err := in.Destroy(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(settle)
		b.StartTimer()

		id := fmt.Sprintf("%s-runc-%d", ct.Name, i)
		// A failed iteration must not leave a container running.
		cleanup := func() { _ = exec.Command(runc, "--root", runcRoot, "delete", "-f", id).Run() }
		start = time.Now()
		// The container inherits runc's stdio: a pipe would never reach
		// EOF while it runs, so output goes to a file.
		cmd := exec.Command(runc, "--root", runcRoot, "run", "-d", "--bundle", bundle, id)
		cmd.Stdout, cmd.Stderr = runcOut, runcOut
		err = cmd.Run()
		theirs += time.Since(start)
		if err != nil {
			cleanup()
			out, _ := os.ReadFile(runcOut.Name())
			b.Fatalf("runc run: %v\n%s", err, out)
		}
		b.StopTimer()
		if out, err := exec.Command(runc, "--root", runcRoot, "delete", "-f", id).CombinedOutput(); err != nil {
			b.Fatalf("runc delete: %v\n%s", err, out)
		}
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(ours.Microseconds())/1000/n, "nucbox-ms/start")
	b.ReportMetric(float64(theirs.Microseconds())/1000/n, "runc-ms/start")
	b.ReportMetric(float64(ours)/float64(theirs), "ratio")
	b.Logf("start: nucbox %.1f ms, runc run -d %.1f ms, ratio %.2f (n=%d, seccomp %v, settle %v)",
		float64(ours.Microseconds())/1000/n, float64(theirs.Microseconds())/1000/n, float64(ours)/float64(theirs), b.N, seccomp.Enabled, settle)
}

// settle is the pause before each timed start in BenchmarkContainerStart:
// several RCU grace periods, so that no start inherits the cgroup lock's
// fast mode from the one before.
const settle = 150 * time.Millisecond

// BenchmarkStart50 starts 50 supervised containers, as a box with 50
// workloads does at boot, and reports the time until all run and the
// resident memory of this process (standing in for PID 1) with the 50
// running.
//
//	go test -run '^$' -bench Start50 -benchtime 1x ./containers
func BenchmarkStart50(b *testing.B) {
	const n = 50
	r := newRuntime(b, nil)
	_, tr := pullBusybox(b, r)
	for i := 0; i < b.N; i++ {
		start := time.Now()
		sups := make([]*Supervisor, n)
		for j := range sups {
			ct := spec(fmt.Sprintf("%s-%d", ctName(b, "many"), j), tr.source(b), "sleep", "1000")
			ct.StopTimeout = 100 * time.Millisecond
			s, err := r.Supervise(ct)
			if err != nil {
				b.Fatal(err)
			}
			sups[j] = s
			// All at once, as the workload pool starts them.
			go s.Start(context.Background())
		}
		for _, s := range sups {
			waitStatusFor(b, s, time.Minute, "start", func(st Status) bool { return st.State == StateRunning })
		}
		took := time.Since(start)
		b.StopTimer()
		rss := vmRSS(b)
		b.ReportMetric(took.Seconds(), "s/50-starts")
		b.ReportMetric(float64(rss)/1024, "MiB-RSS")
		b.Logf("%d containers running after %v; this process's RSS %d KiB", n, took.Round(time.Millisecond), rss)
		var wg sync.WaitGroup
		for _, s := range sups {
			wg.Go(func() { s.Stop(context.Background()) })
		}
		wg.Wait()
		b.StartTimer()
	}
}

// vmRSS is this process's resident set in KiB.
func vmRSS(t testing.TB) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb int
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb
		}
	}
	return 0
}
