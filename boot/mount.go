package boot

import (
	"fmt"
	"github.com/nucbox/nucbox/internal/floor"
	"log"
	"os"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/boot/box"
)

// mount is the first boot phase: / moves off the initramfs (PID 1
// exec's itself again there), the kernel filesystems are mounted, the
// console gets its streams and the kernel's log clock, and the reaper
// starts. Nothing here is fatal: the box boots on, with a warning.
func (p *pid1) mount() bool {
	rootReport, rootErr := leaveInitramfs()
	mountErr := mountEarly()
	ensureStdio()
	clockErr := syncKernelClock()
	log.SetFlags(0)
	log.SetOutput(logWriter{})
	p.initAt = firstExec() + kernelClockOffset()
	Logf("starting as PID 1 (exec'd at %d.%06d)", p.initAt/time.Second, (p.initAt%time.Second)/time.Microsecond)
	if clockErr != nil {
		Logf("clock: warning: cannot align with the kernel's log clock: %v", clockErr)
	}
	if rootErr != nil {
		// Boot on; only containers that need pivot_root will suffer.
		Logf("rootfs: warning: staying on the initramfs: %v", rootErr)
	} else if rootReport != "" {
		Logf("rootfs: %s", rootReport)
	}
	if mountErr != nil {
		Logf("mounts: warning: %v", mountErr)
	}
	// Before anything else runs: the OOM killer passes PID 1 over, and
	// its descriptor and the kernel's process limits leave room for the
	// box once workloads use up theirs.
	if err := floor.ProtectSelf(floor.PID1); err != nil {
		Logf("floor: warning: %v", err)
	}
	if err := floor.HugePagesOnRequest(floor.THPDir); err != nil {
		Logf("floor: warning: %v", err)
	}
	// A name for the rescue shell's prompt until the config sets one.
	unix.Sethostname([]byte(box.DefaultHostname))
	Children.logf = func(f string, a ...any) { Logf("reaper: "+f, a...) }
	goForever("reaper", func() { Children.Run(nil) })
	return true
}

// mountSpec is one early mount.
type mountSpec struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
	mode                   os.FileMode // of the mount point if created
	// fallback is data to retry with when the kernel refuses data.
	fallback string
}

const nsnd = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// earlyMounts are the kernel filesystems PID 1 and its workloads expect.
// cgroup2 is mounted alone (no v1 hierarchies) with nsdelegate so that
// container runtimes can delegate subtrees to cgroup namespaces.
var earlyMounts = []mountSpec{
	{"proc", "/proc", "proc", nsnd, "", 0o555, ""},
	{"sysfs", "/sys", "sysfs", nsnd, "", 0o555, ""},
	{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755", 0o755, ""},
	{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666", 0o755, ""},
	{"shm", "/dev/shm", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777", 0o1777, ""},
	{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755", 0o755, ""},
	{"tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777", 0o1777, ""},
	// favordynmods spares every move of a process into a cgroup (each
	// container start) an RCU grace period of several milliseconds, at a
	// small cost to fork and exit; kernels before 6.0 refuse it.
	{"cgroup2", "/sys/fs/cgroup", "cgroup2", nsnd, "nsdelegate,favordynmods", 0o555, "nsdelegate"},
}

// mountEarly mounts earlyMounts, skipping those already in place (a
// re-exec, or a kernel that mounted devtmpfs itself), and adds the /dev
// links that devtmpfs does not create.
func mountEarly() error {
	mounted, _ := mountPoints()
	var errs []string
	for _, m := range earlyMounts {
		if mounted[m.target] {
			continue
		}
		if err := os.MkdirAll(m.target, m.mode); err != nil {
			errs = append(errs, fmt.Sprintf("mkdir %s: %v", m.target, err))
			continue
		}
		err := unix.Mount(m.source, m.target, m.fstype, m.flags, m.data)
		if err != nil && m.fallback != "" {
			err = unix.Mount(m.source, m.target, m.fstype, m.flags, m.fallback)
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("mount %s on %s: %v", m.fstype, m.target, err))
			continue
		}
		if m.target == "/proc" {
			// The remaining checks need /proc.
			mounted, _ = mountPoints()
		}
	}
	for name, target := range map[string]string{
		"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
		"/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2",
		"/dev/ptmx": "pts/ptmx",
	} {
		if name == "/dev/ptmx" {
			// The devtmpfs node opens the first devpts instance; the
			// link makes the instance at /dev/pts explicit.
			if fi, err := os.Lstat(name); err == nil && fi.Mode()&os.ModeSymlink == 0 {
				os.Remove(name)
			}
		}
		if _, err := os.Lstat(name); os.IsNotExist(err) {
			os.Symlink(target, name)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// mountPoints returns the set of mount targets.
func mountPoints() (map[string]bool, error) {
	mi, err := mountinfo.GetMounts(nil)
	set := map[string]bool{}
	for _, m := range mi {
		set[m.Mountpoint] = true
	}
	return set, err
}
