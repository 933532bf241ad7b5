package boot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// The initramfs is the kernel's first mount ("rootfs"), the root of the
// mount namespace: it has no parent mount, so pivot_root(2) fails with
// EINVAL while it is /, and libcontainer needs pivot_root for every
// container. PID 1 therefore bind-mounts the initramfs onto a directory
// of itself, moves that mount onto / (MS_MOVE) and chroots into it, as
// switch_root does for a real root. The files are not copied: the new
// root is the same filesystem (its type still reads "rootfs"), but it is
// a mount with a parent, which is all pivot_root asks of the caller's
// root. PID 1 carries on in the same process; its binary is the same
// file on either mount.
//
// nucbox.rootfs=keep on the kernel command line stays on the initramfs;
// containers then refuse to start (package containers), which is how the
// refusal is shown on a real box.

// newRootDir is where the bind mount is made before it moves onto /.
const newRootDir = "/.nucbox-root"

// leaveInitramfs puts a bind mount of the initramfs on / and chroots into
// it. It returns what it did, for the log ("" when / was no initramfs or
// nucbox.rootfs=keep), or why / stays the initramfs.
func leaveInitramfs() (report string, err error) {
	ourProc := false
	if !isProcMounted() {
		os.Mkdir("/proc", 0o555)
		if err := unix.Mount("proc", "/proc", "proc", nsnd, ""); err != nil {
			return "", fmt.Errorf("mount /proc to inspect the root: %w", err)
		}
		ourProc = true
	}
	st, err := readRootState()
	if err != nil {
		return "", err
	}
	mode := "bind"
	if cl, err := ReadCmdline(); err == nil {
		if m, ok := cl.Get("nucbox.rootfs"); ok {
			mode = m
		}
	}
	if !st.initramfs() || mode == "keep" {
		if ourProc && st.initramfs() {
			unix.Unmount("/proc", unix.MNT_DETACH)
		}
		if st.initramfs() {
			return "", errors.New("nucbox.rootfs=keep")
		}
		return "", nil
	}
	if mode != "bind" {
		Logf("rootfs: warning: unknown nucbox.rootfs=%s; using bind", mode)
	}
	// A bind mount does not take the mounts below it along: anything
	// mounted on the initramfs would stay behind, hidden under the new
	// root, so it goes now and mountEarly mounts it again.
	mi, _ := mountinfo.GetMounts(nil)
	for i := len(mi) - 1; i >= 0; i-- {
		if mi[i].Mountpoint != "/" {
			unix.Unmount(mi[i].Mountpoint, unix.MNT_DETACH)
		}
	}
	start := time.Now()
	if err := os.MkdirAll(newRootDir, 0o755); err != nil {
		return "", err
	}
	if err := unix.Mount("/", newRootDir, "", unix.MS_BIND, ""); err != nil {
		return "", fmt.Errorf("bind-mount the initramfs: %w", err)
	}
	if err := switchRoot(newRootDir); err != nil {
		return "", err
	}
	// The directory is on the initramfs, seen through the bind as well.
	os.Remove(newRootDir)
	return fmt.Sprintf("the initramfs, bind-mounted onto / in %d µs (no copy)", time.Since(start).Microseconds()), nil
}

// switchRoot moves the mount at dir onto / and makes it this process's
// root, as switch_root does.
func switchRoot(dir string) error {
	if err := os.Chdir(dir); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		unix.Unmount(dir, unix.MNT_DETACH)
		os.Chdir("/")
		return fmt.Errorf("move the bind mount onto /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		// The mount covers / now, but this process still has the
		// initramfs as its root: nothing can mend that, say it.
		return fmt.Errorf("chroot into the new root: %w", err)
	}
	return os.Chdir("/")
}

func isProcMounted() bool {
	var st unix.Statfs_t
	return unix.Statfs("/proc", &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
}

// rootState is the mount this process sees on /.
type rootState struct {
	fstype string
	// nsRoot: the mount is its own parent, the root of the mount
	// namespace, which pivot_root cannot leave.
	nsRoot bool
}

func (s rootState) initramfs() bool { return s.nsRoot && s.fstype == "rootfs" }

// String is the summary's "root": how / came to be.
func (s rootState) String() string {
	switch {
	case s.initramfs():
		return "initramfs"
	case s.fstype == "rootfs":
		return "initramfs-bind"
	}
	return s.fstype
}

func readRootState() (rootState, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return rootState{}, err
	}
	defer f.Close()
	return parseRootState(f)
}

// parseRootState reads mountinfo: the last mount on "/" is the visible
// one.
func parseRootState(r io.Reader) (rootState, error) {
	mi, err := mountinfo.GetMountsFromReader(r, nil)
	if err != nil {
		return rootState{}, err
	}
	var st rootState
	found := false
	for _, m := range mi {
		if m.Mountpoint == "/" {
			st, found = rootState{fstype: m.FSType, nsRoot: m.Parent == m.ID}, true
		}
	}
	if !found {
		return st, errors.New("no mount on / in mountinfo")
	}
	return st, nil
}
