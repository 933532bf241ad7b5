package containers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	_ "github.com/opencontainers/cgroups/devices" // device rules for the cgroup managers
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/internal/exitwait"
	"github.com/nucbox/nucbox/internal/safe"
)

// SpawnGuard runs fn, which forks processes it waits for itself, with
// PID 1's orphan reaping paused, and registers the pids fn returns as
// owned; boot.WithSpawnGuard is one. libcontainer forks this binary
// (`nucbox init`) and waits for those helpers inside its Start, and the
// container's first process is waited for by pid later: a reaper that
// collected any of them would steal the exit status. With a guard, a
// start runs unreaped and the first process is registered before reaping
// resumes; nil runs fn directly (a process that is not PID 1).
type SpawnGuard func(fn func() (pids []int, err error)) error

// Options configure a Runtime.
type Options struct {
	// StateDir holds the image cache and containers/<name>/ (writable
	// layer, logs).
	StateDir string
	// RunDir holds libcontainer's state; it must not survive a reboot
	// (default /run/nucbox/containers).
	RunDir string
	// Box is the box's hostname. A runtime serves one box: its
	// containers' specs (NIC MACs, ports) are compiled for that name.
	Box    string
	Logger *slog.Logger
	// SpawnGuard is PID 1's (boot.WithSpawnGuard); nil when not PID 1.
	SpawnGuard SpawnGuard
	// Network wires NICs; nil gives containers only loopback.
	Network *Network
	// mountinfo is the file the root check reads; tests point it at a
	// fixture. Default /proc/self/mountinfo.
	mountinfo string
}

// Runtime runs containers with libcontainer.
type Runtime struct {
	o     Options
	store *Store
	log   *slog.Logger
	// rootErr is why containers cannot enter their rootfs by
	// pivot_root; every start fails with it (rootentry.go).
	rootErr error
	// prime starts the cgroup lock's grace period at each start (see
	// cgroupPrime); nil: not needed or not possible.
	prime *cgroupPrime
}

// logf is where the runtime's goroutines log a panic.
func (r *Runtime) logf() safe.Logf {
	if r.log == nil {
		return log.Printf
	}
	return safe.Slog(r.log)
}

// New prepares a Runtime.
func New(o Options) (*Runtime, error) {
	if o.StateDir == "" {
		return nil, errors.New("containers: no state directory")
	}
	if o.RunDir == "" {
		o.RunDir = "/run/nucbox/containers"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SpawnGuard == nil {
		o.SpawnGuard = func(fn func() ([]int, error)) error { _, err := fn(); return err }
	}
	st, err := NewStore(o.StateDir, o.Logger)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.RunDir, 0o700); err != nil {
		return nil, err
	}
	r := &Runtime{o: o, store: st, log: o.Logger, prime: newCgroupPrime()}
	if err := sealCheck(o.RunDir); err != nil {
		if fi, serr := os.Stat("/proc/self/exe"); serr == nil {
			r.log.Warn("each container start copies this binary into a sealed memfd",
				"bytes", fi.Size(), "overlay", err.Error())
		}
	}
	if o.mountinfo == "" {
		o.mountinfo = selfMountinfo
	}
	// Say once how the containers of this runtime enter their rootfs,
	// or that none will start.
	if r.rootErr = checkRoot(o.mountinfo); r.rootErr != nil {
		r.log.Error("rootfs entry: none", "err", r.rootErr)
	} else {
		r.log.Info("rootfs entry: pivot_root")
	}
	return r, nil
}

// Store is the runtime's image cache.
func (r *Runtime) Store() *Store { return r.store }

// Instance is one run of a container: created, started, exited, destroyed.
// The Supervisor makes a new Instance for every run.
type Instance struct {
	r       *Runtime
	ct      Spec
	dir     string
	rootfs  Rootfs
	lc      *libcontainer.Container
	proc    *libcontainer.Process
	pid     int
	log     *Log
	net     *netState
	started time.Time

	copied   chan struct{} // closed when the output pipe is drained
	waitOnce sync.Once
	waitErr  error
	exited   chan struct{}
}

// Dir is the container's directory in the state directory.
func (r *Runtime) Dir(name string) string { return filepath.Join(r.o.StateDir, "containers", name) }

// Create mounts the container's rootfs over img and creates (but does not
// start) the libcontainer container. fresh resets the writable layer.
func (r *Runtime) Create(ct Spec, img *Image, log *Log, fresh bool) (_ *Instance, err error) {
	if r.rootErr != nil {
		return nil, r.rootErr
	}
	if r.prime != nil {
		// Start's cgroup attach then finds the lock's grace period
		// (up to half of a start on an idle box) already under way.
		safe.Go(r.logf(), "cgroup prime", func() { _ = r.prime.prime() })
	}
	dir := r.Dir(ct.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	in := &Instance{r: r, ct: ct, dir: dir, rootfs: Rootfs{Dir: dir}, log: log, exited: make(chan struct{})}
	// A container left by a crashed run of nucbox is in the way.
	if old, err := libcontainer.Load(r.o.RunDir, ct.Name); err == nil {
		_ = old.Signal(unix.SIGKILL)
		_ = old.Destroy()
	}
	if err := in.rootfs.Mount(img.Layers, fresh); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = in.rootfs.Unmount()
		}
	}()
	network := r.o.Network != nil && len(ct.NICs) > 0
	if err := writeEtc(in.rootfs.Path(), ct.Name, network); err != nil {
		return nil, fmt.Errorf("write /etc files: %w", err)
	}
	netDir := ""
	if network {
		netDir = filepath.Join(dir, "net")
		if err := os.MkdirAll(netDir, 0o755); err != nil {
			return nil, err
		}
	}
	for _, v := range ct.Volumes {
		if !filepath.IsAbs(v.Source) {
			return nil, fmt.Errorf("volume %s: source %q is not absolute", v.Target, v.Source)
		}
		if err := os.MkdirAll(v.Source, 0o755); err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Target, err)
		}
	}
	s, err := RuntimeSpec(RunSpec{ID: ct.Name, Hostname: ct.Name, Container: ct, Image: img.Config.Config,
		Rootfs: in.rootfs.Path(), NetDir: netDir, Seccomp: seccomp.Enabled})
	if err != nil {
		return nil, err
	}
	cfg, err := LibcontainerConfig(s, ct.Name)
	if err != nil {
		return nil, err
	}
	in.proc = ProcessFor(s)
	if in.lc, err = libcontainer.Create(r.o.RunDir, ct.Name, cfg); err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	return in, nil
}

// Start runs the container's first process. The process is held before
// its exec until the network is wired, so it never sees a netns without
// its NICs. Start returns once the program has replaced the init.
func (in *Instance) Start(ctx context.Context) error {
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	in.proc.Stdout, in.proc.Stderr = outW, outW
	err = in.r.o.SpawnGuard(func() ([]int, error) {
		if err := in.lc.Start(in.proc); err != nil {
			return nil, err
		}
		pid, err := in.proc.Pid()
		in.pid = pid
		return []int{pid}, err
	})
	outW.Close()
	if err != nil {
		outR.Close()
		return fmt.Errorf("start: %w", err)
	}
	in.copied = make(chan struct{})
	logf := in.r.logf()
	safe.Go(logf, in.ct.Name+": output", func() {
		defer close(in.copied)
		defer outR.Close()
		// A panic loses what was in flight, not the rest of the output.
		safe.Run(context.Background(), logf, in.ct.Name+": output", safe.DefaultBackoff, func(context.Context) error {
			// A small buffer: a hundred containers each hold one for as
			// long as they run. readerOnly hides the pipe's WriteTo,
			// through which io.CopyBuffer would take a 32 KiB one anyway.
			_, _ = io.CopyBuffer(in.log, readerOnly{outR}, make([]byte, 4<<10))
			return nil
		})
	})
	if in.r.o.Network != nil && len(in.ct.NICs) > 0 {
		ns := fmt.Sprintf("/proc/%d/ns/net", in.pid)
		if in.net, err = in.r.o.Network.Wire(ctx, in.ct, ns, filepath.Join(in.dir, "net")); err != nil {
			in.kill()
			return fmt.Errorf("network: %w", err)
		}
	}
	exe := fmt.Sprintf("/proc/%d/exe", in.pid)
	initExe, _ := os.Readlink(exe)
	if err := in.lc.Exec(); err != nil {
		in.kill()
		return fmt.Errorf("exec %v: %w", in.proc.Args, err)
	}
	waitExec(exe, initExe)
	in.started = time.Now()
	return nil
}

// readerOnly is a reader without its other methods (WriteTo).
type readerOnly struct{ io.Reader }

// waitExec waits until the process behind exe no longer runs the init
// binary. Exec returns when the init has read its go-ahead, a moment
// before it execs the program: a signal in between would reach the init
// (a Go program, PID 1 of its namespace) instead of the program, and
// "running" would be claimed too early.
func waitExec(exe, initExe string) {
	deadline := time.Now().Add(2 * time.Second)
	for d := 50 * time.Microsecond; time.Now().Before(deadline); d = min(2*d, time.Millisecond) {
		cur, err := os.Readlink(exe)
		if err != nil || cur != initExe {
			return
		}
		time.Sleep(d)
	}
}

func (in *Instance) kill() {
	_ = in.lc.Signal(unix.SIGKILL)
	_, _ = in.Wait()
}

// Pid is the container's first process as the box sees it.
func (in *Instance) Pid() int { return in.pid }

// Wait waits for the first process to exit. Calls after the first return
// the same result.
func (in *Instance) Wait() (*os.ProcessState, error) {
	var ps *os.ProcessState
	in.waitOnce.Do(func() {
		if in.pid > 0 {
			exitwait.Exited(in.pid) // without holding a thread meanwhile
		}
		ps, in.waitErr = in.proc.Wait()
		// The last output is still in the pipe; a process the first one
		// left behind that keeps the pipe open must not hold Wait up.
		if in.copied != nil {
			select {
			case <-in.copied:
			case <-time.After(time.Second):
			}
		}
		if ps != nil {
			in.waitErr = exitError(ps)
		}
		close(in.exited)
	})
	<-in.exited
	return ps, in.waitErr
}

// ErrExit is wrapped by the error of a process that did not exit 0.
var ErrExit = errors.New("container exited")

func exitError(ps *os.ProcessState) error {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	switch {
	case !ok:
		return nil
	case ws.Signaled():
		return fmt.Errorf("%w: killed by %s", ErrExit, unix.SignalName(ws.Signal()))
	case ws.ExitStatus() != 0:
		return fmt.Errorf("%w: exit status %d", ErrExit, ws.ExitStatus())
	}
	return nil
}

// Signal sends sig to the first process.
func (in *Instance) Signal(sig os.Signal) error { return in.lc.Signal(sig) }

// Stop sends SIGTERM, and SIGKILL when the process has not exited after
// timeout.
func (in *Instance) Stop(timeout time.Duration) error {
	select {
	case <-in.exited:
		return nil
	default:
	}
	if err := in.lc.Signal(unix.SIGTERM); err != nil {
		in.log.Printf("SIGTERM: %v", err)
	}
	safe.Go(in.r.logf(), in.ct.Name+": wait", func() { _, _ = in.Wait() })
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-in.exited:
		return nil
	case <-t.C:
	}
	in.log.Printf("still running %v after SIGTERM: SIGKILL", timeout)
	// Killing the whole cgroup also ends what the first process left.
	if err := in.lc.Signal(unix.SIGKILL); err != nil {
		return err
	}
	<-in.exited
	return nil
}

// Destroy removes the container: its cgroup and libcontainer state, the
// DHCP client, and the rootfs mount. The writable layer stays for a
// restart.
func (in *Instance) Destroy() error {
	if in.net != nil {
		in.net.Close()
	}
	var errs []error
	if in.lc != nil {
		errs = append(errs, in.lc.Destroy())
	}
	errs = append(errs, in.rootfs.Unmount())
	return errors.Join(errs...)
}
