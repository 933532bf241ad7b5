package boot

import (
	"context"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Action is how a shutdown ends.
type Action int

const (
	PowerOff Action = iota
	Reboot
)

func (a Action) String() string {
	if a == Reboot {
		return "rebooting"
	}
	return "powering off"
}

const (
	stopTimeout = 30 * time.Second // for the workloads' own orderly stop
	termTimeout = 5 * time.Second  // between SIGTERM and SIGKILL for the rest
	pfKthread   = 0x00200000       // PF_KTHREAD in /proc/<pid>/stat flags
)

// shutdown stops the box in order and powers it off or reboots. It
// returns at once; a second request while one runs is ignored, so a
// impatient second press of the button cannot cut the first short.
func (p *pid1) shutdown(a Action, reason string) {
	p.shutdownOnce.Do(func() {
		p.stopping.Store(true)
		if b := p.box.Load(); b != nil {
			b.BeginShutdown()
		}
		goSafe("shutdown", func() { p.stop(a, reason) })
	})
}

// shuttingDown reports whether a shutdown began.
func (p *pid1) shuttingDown() bool { return p.stopping.Load() }

func (p *pid1) stop(a Action, reason string) {
	Logf("%s (%s)", a, reason)
	start := time.Now()

	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	if b := p.box.Load(); b != nil {
		if err := callSafe(func() error { return b.Stop(ctx) }); err != nil {
			Logf("shutdown: stopping workloads: %v", err)
		}
	}
	cancel()

	p.shell.stop()
	if n := killAll(unix.SIGTERM, termTimeout); n > 0 {
		Logf("shutdown: %d processes ignored SIGTERM; sending SIGKILL", n)
		killAll(unix.SIGKILL, 2*time.Second)
	}
	reapAll()
	p.closeBootLogFile()
	unix.Sync()
	n := unmountAll()
	unix.Sync()
	Logf("shutdown: done in %d ms (%d filesystems unmounted); %s now", time.Since(start).Milliseconds(), n, a)
	drainConsole()

	cmd := unix.LINUX_REBOOT_CMD_POWER_OFF
	if a == Reboot {
		cmd = unix.LINUX_REBOOT_CMD_RESTART
	}
	err := unix.Reboot(cmd)
	// Only reached if the kernel refused; there is nothing left to run.
	Logf("shutdown: reboot(2): %v", err)
}

// killAll signals every process but PID 1 and kernel threads and waits
// up to timeout for them to exit; it returns how many are left.
func killAll(sig unix.Signal, timeout time.Duration) int {
	unix.Kill(-1, sig)
	deadline := time.Now().Add(timeout)
	for {
		// The processes may be our children: collect them, or they
		// count as left.
		reapAll()
		n := len(userProcesses())
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// userProcesses lists the live processes other than PID 1 and kernel
// threads.
func userProcesses() []procStat {
	var out []procStat
	for _, st := range listProcs("/proc") {
		if st.pid == 1 || st.flags&pfKthread != 0 || st.state == 'Z' {
			continue
		}
		out = append(out, st)
	}
	return out
}

// reapAll collects every exited child. Only used while shutting down,
// when no owner is left to want an exit status.
func reapAll() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err != nil || pid <= 0 {
			return
		}
	}
}

// unmountAll unmounts everything but / in reverse mount order, detaching
// what is still busy so that the filesystems under it can go too.
func unmountAll() int {
	mi, err := mountinfo.GetMounts(nil)
	if err != nil {
		return 0
	}
	n := 0
	for i := len(mi) - 1; i >= 0; i-- {
		t := mi[i].Mountpoint
		if t == "/" {
			continue
		}
		if err := unix.Unmount(t, 0); err == nil {
			n++
			continue
		}
		// Still busy: read-only first, so a disk's journal is clean even
		// if the detached mount lingers until power off.
		unix.Mount("", t, "", unix.MS_REMOUNT|unix.MS_RDONLY, "")
		if err := unix.Unmount(t, unix.MNT_DETACH); err == nil {
			n++
		}
	}
	// / itself cannot go; a read-only remount makes a disk root clean.
	unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_RDONLY, "")
	return n
}
