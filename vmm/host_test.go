package vmm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Host tier: a real qemu-system-x86_64 with the tiny guest. The tests run
// one after the other, never in parallel: one QEMU at a time.

// testLog sends a guest's log to the test's log, and drops lines after
// the test ended instead of panicking.
type testLog struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func newTestLogger(t *testing.T) *slog.Logger {
	l := &testLog{t: t}
	t.Cleanup(func() { l.mu.Lock(); l.done = true; l.mu.Unlock() })
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// waitSerial waits for marker on g's console and shows the console when
// it does not come.
func waitSerial(t *testing.T, g *Guest, marker string) time.Duration {
	t.Helper()
	start := time.Now()
	for !bytes.Contains(g.Serial(), []byte(marker)) {
		if time.Since(start) > 90*time.Second {
			t.Fatalf("no %q on the serial console after 90s:\n%s", marker, g.Serial())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// tinySpec is the tiny guest with a qcow2 disk (created by qemu-img at
// start) and a cloud-init seed, so that the real QEMU accepts every drive
// kind vmm generates.
func tinySpec(t testing.TB, appendExtra string) Spec {
	kernel, _, err := debianKernel()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	initrd := buildTinyInitramfs(t, state)
	return Spec{
		Box:             "testbox",
		StateDir:        state,
		Name:            "tiny",
		CPUs:            1,
		Memory:          256 << 20,
		Machine:         "q35",
		AccelMode:       "auto",
		Kernel:          kernel,
		Initrd:          initrd,
		Append:          strings.TrimSpace(guestAppend + " " + appendExtra),
		Disks:           []Disk{{Path: filepath.Join(state, "tiny.qcow2"), Size: 64 << 20, Format: "qcow2"}},
		CloudInit:       &CloudInit{UserData: "#cloud-config\n"},
		Restart:         "always",
		ShutdownTimeout: time.Minute,
	}
}

func startGuest(t *testing.T, s Spec, opts Options) *Guest {
	t.Helper()
	if opts.Log == nil {
		opts.Log = newTestLogger(t)
	}
	g := NewGuest(s, opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Stop(ctx)
	})
	start := time.Now()
	if err := g.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v\nserial:\n%s", err, g.Serial())
	}
	st := g.Status()
	t.Logf("Start returned after %v; exec to QMP running %v; accel %s (%s)",
		time.Since(start).Round(time.Millisecond), st.StartupTime.Round(time.Millisecond), st.Accel, st.AccelReason)
	return g
}

func TestHostLifecycle(t *testing.T) {
	hostTier(t, false)
	s := tinySpec(t, "")
	vnc := 1
	s.VNC = &vnc
	g := startGuest(t, s, Options{})

	st := g.Status()
	if st.State != StateRunning || st.QMPStatus != "running" || st.PID == 0 || !st.Display {
		t.Fatalf("after Start: %+v", st)
	}
	checkVNCSocketOnly(t, g, st.PID)
	var qs struct{ Status string }
	if err := g.QMP(context.Background(), "query-status", nil, &qs); err != nil || qs.Status != "running" {
		t.Fatalf("query-status: %q, %v", qs.Status, err)
	}
	pidFile, _ := os.ReadFile(s.Paths().PID)
	if strings.TrimSpace(string(pidFile)) == "" {
		t.Error("no pid file")
	}
	booted := waitSerial(t, g, guestUp)
	t.Logf("guest init reached %v after Start", booted.Round(time.Millisecond))

	stopStart := time.Now()
	if err := g.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	st = g.Status()
	t.Logf("stopped by %s in %v", st.StoppedBy, time.Since(stopStart).Round(time.Millisecond))
	if st.StoppedBy != "powerdown" || st.State != StateStopped || st.PID != 0 || st.LastExit != "exit status 0" {
		t.Errorf("after Stop: %+v", st)
	}
	if !bytes.Contains(g.Serial(), []byte(guestPowerOff)) {
		t.Errorf("guest did not see the power button:\n%s", g.Serial())
	}
	log, err := os.ReadFile(s.Paths().Serial)
	if err != nil || !bytes.Contains(log, []byte(guestUp)) {
		t.Errorf("serial.log lacks the marker (%v)", err)
	}
	if _, err := os.Stat(s.Paths().PID); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
	r, err := (QemuImg{}).Check(context.Background(), s.Disks[0].Path)
	if err != nil || !r.Clean() {
		t.Errorf("qemu-img check after clean shutdown: %+v, %v", r, err)
	}
}

func TestHostIgnoredPowerdownQuits(t *testing.T) {
	hostTier(t, false)
	s := tinySpec(t, "nucbox.test=ignore")
	s.ShutdownTimeout = 2 * time.Second
	g := startGuest(t, s, Options{})
	waitSerial(t, g, guestUp)
	start := time.Now()
	if err := g.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	st := g.Status()
	t.Logf("stopped by %s in %v", st.StoppedBy, took.Round(time.Millisecond))
	if st.StoppedBy != "quit" || st.State != StateStopped {
		t.Errorf("after Stop: %+v", st)
	}
	if took < 2*time.Second || took > 10*time.Second {
		t.Errorf("stop took %v; want the 2s grace period and a quick quit", took)
	}
	r, err := (QemuImg{}).Check(context.Background(), s.Disks[0].Path)
	if err != nil || !r.Clean() {
		t.Errorf("qemu-img check after quit: %+v, %v", r, err)
	}
}

func TestHostBadInputIsPerVM(t *testing.T) {
	hostTier(t, false)
	s := tinySpec(t, "")
	s.CDROMs = []string{"missing.iso"}
	s.Restart = "never"
	g := NewGuest(s, Options{Log: newTestLogger(t)})
	err := g.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cdrom 0 missing.iso: not found") {
		t.Fatalf("Start: %v", err)
	}
	<-g.Done()
	if st := g.Status(); st.State != StateFailed || !strings.Contains(st.LastError, "missing.iso") {
		t.Errorf("status: %+v", st)
	}
}

// checkVNCSocketOnly checks that the guest's screen answers on its unix
// socket with QEMU's RFB banner (the positive control) and that QEMU
// listens on no TCP port at all.
func checkVNCSocketOnly(t *testing.T, g *Guest, pid int) {
	t.Helper()
	c, err := g.OpenVNC()
	if err != nil {
		t.Fatalf("OpenVNC: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	banner := make([]byte, 12)
	if _, err := io.ReadFull(c, banner); err != nil || string(banner) != "RFB 003.008\n" {
		t.Fatalf("VNC socket banner %q, %v", banner, err)
	}
	if ports := tcpListeners(t, pid); len(ports) > 0 {
		t.Errorf("QEMU (pid %d) listens on TCP: %v", pid, ports)
	}
}

// tcpListeners returns the TCP ports that process pid listens on: the
// listening sockets of /proc/net/tcp{,6} whose inodes are among its
// descriptors.
func tcpListeners(t *testing.T, pid int) []string {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	if len(inodes) == 0 {
		t.Fatalf("QEMU (pid %d) holds no sockets, not even QMP's: the check would see nothing", pid)
	}
	var out []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			// st 0A is LISTEN; field 9 is the inode.
			if len(fs) > 9 && fs[3] == "0A" && inodes[fs[9]] {
				out = append(out, fs[1])
			}
		}
	}
	return out
}
