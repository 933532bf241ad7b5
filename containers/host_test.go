package containers

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nucbox/nucbox/containers/imagetest"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/test/ci"
)

// The test binary is also the container init, as the nucbox binary is:
// libcontainer re-executes it with "init".
func TestMain(m *testing.M) {
	if IsInit() {
		Init()
	}
	os.Exit(m.Run())
}

// requireRoot skips host-tier tests unless root; under CI it fails.
func requireRoot(t testing.TB) {
	t.Helper()
	ci.Require(t, os.Geteuid() == 0, "host-tier container tests need root")
}

// busyboxImage is the test image with a command that says where it came
// from, and an environment variable to check that image env is kept.
func busyboxImage(t testing.TB) v1.Image {
	return imagetest.Busybox(t, []string{"sh", "-c", "echo hello from the image"}, []string{"PATH=/bin", "FROM_IMAGE=1"})
}

// testRegistry serves img from an in-memory registry on 127.0.0.1 and
// counts manifest fetches, so a test can tell a pull from a cache hit.
type testRegistry struct {
	ref       string
	mu        sync.Mutex
	manifests int
}

func serveImage(t testing.TB, img v1.Image) *testRegistry {
	t.Helper()
	tr := &testRegistry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(httpFunc(func(w httpResponseWriter, r *httpRequest) {
		if strings.Contains(r.URL.Path, "/manifests/") {
			tr.mu.Lock()
			tr.manifests++
			tr.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	tr.ref = u.Host + "/test/busybox:1"
	ref, err := name.ParseReference(tr.ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	tr.manifests = 0
	return tr
}

func (tr *testRegistry) fetches() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.manifests
}

func (tr *testRegistry) source(t testing.TB) Source {
	ref, err := name.ParseReference(tr.ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return Source{Transport: TransportRegistry, Ref: ref.Name(), Registry: ref.Context().RegistryStr(), Insecure: true}
}

// spec is container name as config/plan compiles it with config's
// defaults (restart on-failure, 10 s to stop), running cmd.
func spec(name string, img Source, cmd ...string) Spec {
	return Spec{Name: name, Image: img, Command: cmd, Restart: "on-failure", StopTimeout: 10 * time.Second}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func newRuntime(t testing.TB, net *Network) *Runtime {
	t.Helper()
	requireRoot(t)
	dir := t.TempDir()
	r, err := New(Options{
		StateDir: filepath.Join(dir, "state"),
		RunDir:   filepath.Join(dir, "run"),
		Box:      "nuc-test",
		Logger:   slog.New(slog.NewTextHandler(testWriter{t}, nil)),
		Network:  net,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Test containers carry the test's pid so parallel runs do not clash.
	return r
}

// run creates and starts ct from img and returns the instance and its log.
func run(t testing.TB, r *Runtime, ct Spec, img *Image) (*Instance, *Log) {
	t.Helper()
	lg, err := OpenLog(filepath.Join(r.Dir(ct.Name)+".log"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	in, err := r.Create(ct, img, lg, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = in.Stop(time.Second)
		if err := in.Destroy(); err != nil {
			t.Errorf("destroy %s: %v", ct.Name, err)
		}
		lg.Close()
	})
	if err := in.Start(context.Background()); err != nil {
		t.Fatalf("start %s: %v\n%s", ct.Name, err, lg.Tail())
	}
	return in, lg
}

func ctName(t testing.TB, base string) string {
	return fmt.Sprintf("%s-%d", base, os.Getpid()%100000)
}

func pullBusybox(t testing.TB, r *Runtime) (*Image, *testRegistry) {
	t.Helper()
	tr := serveImage(t, busyboxImage(t))
	var progress []Progress
	img, err := r.Store().Get(context.Background(), tr.source(t), func(p Progress) { progress = append(progress, p) })
	if err != nil {
		t.Fatal(err)
	}
	if len(progress) == 0 || progress[len(progress)-1].Layer != 1 {
		t.Errorf("pull progress = %+v, want reports for layer 1", progress)
	}
	return img, tr
}

func TestPullOnceAndCache(t *testing.T) {
	r := newRuntime(t, nil)
	img, tr := pullBusybox(t, r)
	if len(img.Layers) != 1 {
		t.Fatalf("layers = %v", img.Layers)
	}
	if _, err := os.Stat(filepath.Join(img.Layers[0], "bin/busybox")); err != nil {
		t.Fatal(err)
	}
	before := tr.fetches()
	again, err := r.Store().Get(context.Background(), tr.source(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != img.Digest || tr.fetches() != before {
		t.Errorf("second Get: digest %s (first %s), %d manifest fetches; want the cache and none", again.Digest, img.Digest, tr.fetches()-before)
	}
}

func TestRunCapabilitiesLimitsLogs(t *testing.T) {
	r := newRuntime(t, nil)
	img, _ := pullBusybox(t, r)
	ct := spec(ctName(t, "caps"), Source{},
		"sh", "-c", `grep -E 'CapEff|NoNewPrivs|Seccomp:' /proc/self/status; echo env=$FROM_IMAGE$EXTRA; hostname; id -u; echo hi > /data/out; echo done`)
	ct.Volumes = []Volume{{Source: filepath.Join(r.o.StateDir, "vol"), Target: "/data"}}
	ct.Env = map[string]string{"EXTRA": "2"}
	ct.Memory, ct.PIDs, ct.CPUs = 64<<20, 20, 0.5
	in, lg := run(t, r, ct, img)
	st, err := in.lc.State()
	if err != nil {
		t.Fatal(err)
	}
	checkCgroup(t, st.CgroupPaths, "memory", []string{"memory.max", "memory.limit_in_bytes"}, fmt.Sprint(64<<20))
	checkCgroup(t, st.CgroupPaths, "pids", []string{"pids.max"}, "20")
	if _, err := in.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, lg.Tail())
	}
	out := string(lg.Tail())
	// Docker's default set: 0xa80425fb.
	wants := []string{"CapEff:\t00000000a80425fb", "NoNewPrivs:\t1", "env=12", ct.Name, "\n0\n", "done"}
	if seccomp.Enabled {
		wants = append(wants, "Seccomp:\t2")
	} else {
		t.Log("built without the seccomp tag: the profile is not applied")
	}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(r.o.StateDir, "vol/out")); err != nil || string(b) != "hi\n" {
		t.Errorf("volume file: %q, %v", b, err)
	}
	if b, err := os.ReadFile(r.Dir(ct.Name) + ".log"); err != nil || !strings.Contains(string(b), "done") {
		t.Errorf("log file: %v\n%s", err, b)
	}
}

// checkCgroup reads the first of files that exists in the subsystem's
// cgroup: the names differ between cgroup v1 (the test host) and v2 (the
// appliance).
func checkCgroup(t *testing.T, paths map[string]string, subsys string, files []string, want string) {
	t.Helper()
	dir := paths[subsys]
	if dir == "" {
		dir = paths[""]
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			continue
		}
		if got := strings.TrimSpace(string(b)); got != want {
			t.Errorf("%s/%s = %s, want %s", dir, f, got, want)
		}
		return
	}
	t.Errorf("none of %v in %s cgroup %q (paths %v)", files, subsys, dir, paths)
}

func TestUnprivilegedUserHasNoCapabilities(t *testing.T) {
	r := newRuntime(t, nil)
	img, _ := pullBusybox(t, r)
	ct := spec(ctName(t, "nobody"), Source{}, "sh", "-c", "grep CapEff /proc/self/status; id -u")
	ct.User = "nobody"
	in, lg := run(t, r, ct, img)
	if _, err := in.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, lg.Tail())
	}
	out := string(lg.Tail())
	if !strings.Contains(out, "CapEff:\t0000000000000000") || !strings.Contains(out, "65534") {
		t.Errorf("output:\n%s", out)
	}
}

func TestStopSemantics(t *testing.T) {
	r := newRuntime(t, nil)
	img, _ := pullBusybox(t, r)

	// A process that handles SIGTERM ends with it.
	polite := spec(ctName(t, "polite"), Source{},
		"sh", "-c", "trap 'echo bye; exit 3' TERM; echo ready; while true; do sleep 0.05; done")
	in, lg := run(t, r, polite, img)
	waitOutput(t, lg, "ready")
	start := time.Now()
	if err := in.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stop of a SIGTERM handler took %v", d)
	}
	if _, err := in.Wait(); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("exit = %v, want exit status 3", err)
	}

	// PID 1 of a namespace ignores SIGTERM without a handler: SIGKILL
	// follows after the timeout.
	stubborn := spec(ctName(t, "stubborn"), Source{}, "sleep", "1000")
	in, _ = run(t, r, stubborn, img)
	start = time.Now()
	if err := in.Stop(300 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	if d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("stop took %v, want the 300ms timeout then SIGKILL", d)
	}
	if _, err := in.Wait(); err == nil || !strings.Contains(err.Error(), "SIGKILL") {
		t.Errorf("exit = %v, want killed by SIGKILL", err)
	}
}

func waitOutput(t testing.TB, lg *Log, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(string(lg.Tail()), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in output:\n%s", s, lg.Tail())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitStatus(t testing.TB, s *Supervisor, what string, ok func(Status) bool) Status {
	t.Helper()
	return waitStatusFor(t, s, 15*time.Second, what, ok)
}

// supervise makes a Supervisor of ct and stops it when the test ends.
func supervise(t testing.TB, r *Runtime, ct Spec) *Supervisor {
	t.Helper()
	s, err := r.Supervise(ct)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop(context.Background())
		s.Close()
	})
	return s
}

// waitDone waits for the end of s's run.
func waitDone(t testing.TB, s *Supervisor) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(15 * time.Second):
		t.Fatalf("the run did not end: %+v\n%s", s.Status(), s.Logs())
	}
}

// A process killed with SIGKILL ends its run with that error; the next
// run, as the workload pool starts it, runs the container again on the
// same log.
func TestRunAfterKill9(t *testing.T) {
	r := newRuntime(t, nil)
	_, tr := pullBusybox(t, r)
	ct := spec(ctName(t, "rerun"), tr.source(t), "sh", "-c", "echo up; exec sleep 1000")
	ct.StopTimeout = time.Second
	s := supervise(t, r, ct)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := s.Status()
	waitOutput(t, s.log, "up\n")
	if err := unix.Kill(first.Pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDone(t, s)
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "SIGKILL") {
		t.Errorf("Err = %v, want killed by SIGKILL", err)
	}
	if st := s.Status(); st.State != StateExited || !strings.Contains(st.LastExit, "SIGKILL") || st.Pid != 0 {
		t.Errorf("after the kill: %+v", st)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st.State != StateRunning || st.Pid == first.Pid || st.LastError != "" {
		t.Errorf("second run: %+v", st)
	}
	waitStatus(t, s, "output of the second run", func(Status) bool { return strings.Count(string(s.Logs()), "up\n") == 2 })
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st.State != StateStopped || s.Err() != nil {
		t.Errorf("after Stop: %+v, Err %v", st, s.Err())
	}
}

func TestBadCommandIsReported(t *testing.T) {
	r := newRuntime(t, nil)
	_, tr := pullBusybox(t, r)
	ct := spec(ctName(t, "bad"), tr.source(t), "/no/such/program")
	ct.Restart = "never"
	s := supervise(t, r, ct)
	if err := s.Start(context.Background()); err == nil {
		t.Fatal("Start of a missing program succeeded")
	}
	st := waitStatus(t, s, "failure", func(st Status) bool { return st.State == StateExited })
	if !strings.Contains(st.LastError, "no/such/program") {
		t.Errorf("last error %q does not name the program", st.LastError)
	}
}

func TestMissingImageIsReported(t *testing.T) {
	r := newRuntime(t, nil)
	tr := serveImage(t, busyboxImage(t))
	src := tr.source(t)
	src.Ref = strings.Replace(src.Ref, "busybox:1", "nothere:1", 1)
	s := supervise(t, r, spec(ctName(t, "noimg"), src))
	s.Start(context.Background())
	st := waitStatus(t, s, "pull failure", func(st Status) bool { return st.LastError != "" })
	if !strings.Contains(st.LastError, "nothere") {
		t.Errorf("last error %q", st.LastError)
	}
}

// cmdOutput runs a host command and fails t with its output on error.
func cmdOutput(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

type (
	httpResponseWriter = http.ResponseWriter
	httpRequest        = http.Request
	httpFunc           = http.HandlerFunc
)

func TestSpawnGuardGetsTheFirstProcess(t *testing.T) {
	r := newRuntime(t, nil)
	var guarded [][]int
	r.o.SpawnGuard = func(fn func() ([]int, error)) error {
		pids, err := fn()
		guarded = append(guarded, pids)
		return err
	}
	img, _ := pullBusybox(t, r)
	ct := spec(ctName(t, "guard"), Source{}, "sh", "-c", "exit 7")
	in, _ := run(t, r, ct, img)
	if len(guarded) != 1 || len(guarded[0]) != 1 || guarded[0][0] != in.Pid() {
		t.Errorf("guard saw %v, want [[%d]]", guarded, in.Pid())
	}
	if _, err := in.Wait(); err == nil || !strings.Contains(err.Error(), "exit status 7") {
		t.Errorf("exit = %v, want exit status 7", err)
	}
}
