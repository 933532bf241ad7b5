package containers

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/runc/libcontainer/seccomp"

	"github.com/nucbox/nucbox/test/benchreport"
	"github.com/nucbox/nucbox/test/ci"
)

// BenchmarkContainerStart (P2 of `make bench`) times a container start,
// from the call to the first process running, through nucbox (rootfs
// mount, libcontainer create and start) and through `runc run -d` of the
// same bundle (the same runtime spec, the image flattened into a plain
// directory). The runc binary is built by `make bench` from the runc
// module at the version go.mod pins, the libcontainer nucbox embeds
// ($NUCBOX_BENCH_RUNC, default build/bench/runc): a Debian runc of
// another version would compare two libcontainers, not two designs.
//
// Four rows, each with its samples alternating which side starts first:
//   - idle: each start after a pause. Moving a process into a cgroup is
//     slow (an RCU grace period, 4 to 16 ms here) only when no other move
//     happened within the last grace period, so the pause makes every
//     start pay it, as a start on a box doing nothing else does.
//   - back to back: no pause, starts inherit each other's kernel state,
//     as when a box starts its workloads at boot.
//   - both again with a CPU burner (a busy shell loop) on one of the two
//     cores: the "under load" rows.
//
// The two are measured at their own end points: `runc run -d` returns
// once the container's init has taken its go-ahead, a moment before the
// program's exec; nucbox waits until the program has replaced the init.
//
//	make bench, or: go test -tags netgo,osusergo,seccomp -run '^$' -bench ContainerStart ./containers
func BenchmarkContainerStart(b *testing.B) {
	runc := benchRunc(b)
	r := newRuntime(b, nil)
	img, _ := pullBusybox(b, r)
	ct := spec(ctName(b, "bench"), Source{}, "sleep", "1000")

	// The runc bundle: the same spec, the rootfs flattened.
	bundle := b.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
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

	n := 0
	ours := func() time.Duration {
		start := time.Now()
		in, err := r.Create(ct, img, lg, n == 0)
		if err == nil {
			err = in.Start(b.Context())
		}
		took := time.Since(start)
		if err != nil {
			b.Fatalf("nucbox start: %v\n%s", err, lg.Tail())
		}
		in.kill()
		if err := in.Destroy(); err != nil {
			b.Fatal(err)
		}
		n++
		return took
	}
	theirs := func() time.Duration {
		id := fmt.Sprintf("%s-runc-%d", ct.Name, n)
		n++
		start := time.Now()
		// The container inherits runc's stdio: a pipe would never reach
		// EOF while it runs, so output goes to a file.
		cmd := exec.Command(runc, "--root", runcRoot, "run", "-d", "--bundle", bundle, id)
		cmd.Stdout, cmd.Stderr = runcOut, runcOut
		err := cmd.Run()
		took := time.Since(start)
		// A failed start must not leave a container running either.
		out, derr := exec.Command(runc, "--root", runcRoot, "delete", "-f", id).CombinedOutput()
		if err != nil {
			log, _ := os.ReadFile(runcOut.Name())
			b.Fatalf("runc run: %v\n%s", err, log)
		}
		if derr != nil {
			b.Fatalf("runc delete: %v\n%s", derr, out)
		}
		return took
	}

	const rounds = 20
	measure := func(pause time.Duration) (o, t []float64) {
		for i := range rounds {
			sides := []func() time.Duration{ours, theirs}
			if i%2 == 1 {
				sides[0], sides[1] = sides[1], sides[0]
			}
			for j, side := range sides {
				time.Sleep(pause)
				d := benchreport.Ms(side())
				if (i%2 == 0) == (j == 0) {
					o = append(o, d)
				} else {
					t = append(t, d)
				}
			}
		}
		return o, t
	}
	ours() // the first start of a runtime primes its cgroup parent
	base := "runc run -d (" + runcVersion(b, runc) + ")"
	note := fmt.Sprintf("host tier (root, cgroup v1 host kernel), busybox `sleep`, seccomp %v, %d rounds alternating which side starts first; idle rows pause %v before each start; runc built from the runc module at go.mod's version",
		seccomp.Enabled, rounds, settle)
	row := func(id, name, load string, pause time.Duration) benchreport.Figure {
		o, t := measure(pause)
		return benchreport.Figure{ID: id, Name: name, Unit: "ms", Load: load, Ours: o, Baseline: base, BaseSamples: t,
			Goal: benchreport.AtMostRatio(0.8)}
	}
	figs := []benchreport.Figure{
		row("P2a", "container start, idle (pause between starts)", "idle", settle),
		row("P2b", "container start, back to back", "idle", 0),
	}
	figs[0].Note = note
	stop := benchreport.BurnCPU(b, -1)
	figs = append(figs,
		row("P2c", "container start, idle (pause between starts)", "1 CPU burner", settle),
		row("P2d", "container start, back to back", "1 CPU burner", 0))
	stop()
	benchreport.Record(b, "p2-containers", figs...)
}

// settle is the pause before each start of the idle rows: several RCU
// grace periods, so that no start inherits the cgroup lock's fast mode
// from the one before.
const settle = 150 * time.Millisecond

// benchRunc is the runc built from the module nucbox embeds.
func benchRunc(b *testing.B) string {
	p := os.Getenv("NUCBOX_BENCH_RUNC")
	if p == "" {
		dir, err := benchreport.Dir()
		if err != nil {
			b.Fatal(err)
		}
		p = filepath.Join(dir, "runc")
	}
	if _, err := os.Stat(p); err != nil {
		ci.Missing(b, "%s: the benchmark's runc, built by `make bench` from the runc module at go.mod's version (%v)", p, err)
	}
	return p
}

func runcVersion(b *testing.B, runc string) string {
	out, err := exec.Command(runc, "--version").Output()
	if err != nil {
		b.Fatalf("%s --version: %v", runc, err)
	}
	var v string
	fmt.Sscanf(string(out), "runc version %s", &v)
	return v
}
