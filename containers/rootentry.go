package containers

import (
	"errors"
	"fmt"
	"os"

	"github.com/moby/sys/mountinfo"
)

// Every container enters its rootfs by pivot_root, which leaves the
// box's root unreachable from inside. libcontainer's alternative for a
// root that pivot_root cannot leave (NoPivotRoot) is a chroot, which a
// process with CAP_SYS_CHROOT, part of Docker's set, can climb out of:
// so a runtime whose root does not allow pivot_root refuses to start
// containers instead, with an error in each container's status and log.
//
// pivot_root needs the caller's root to be a mount with a parent. The
// initramfs ("rootfs") is the root of the mount namespace, its own parent
// in mountinfo; PID 1 bind-mounts it onto / to make a root that has one.

// ErrInitramfsRoot is the refusal on a box whose root is the initramfs.
var ErrInitramfsRoot = errors.New("root is the initramfs: pivot_root impossible, refusing to start containers without it")

// selfMountinfo is what the runtime reads to check its root.
const selfMountinfo = "/proc/self/mountinfo"

// checkRoot reads a mountinfo file and says why pivot_root cannot leave
// its root, or nil.
func checkRoot(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot tell whether pivot_root works, refusing to start containers: %w", err)
	}
	defer f.Close()
	mi, err := mountinfo.GetMountsFromReader(f, nil)
	if err != nil {
		return fmt.Errorf("cannot tell whether pivot_root works, refusing to start containers: %s: %w", path, err)
	}
	var root *mountinfo.Info
	for _, m := range mi {
		if m.Mountpoint == "/" {
			root = m // the last mount on / is the visible one
		}
	}
	switch {
	case root == nil:
		return errors.New("root is no mount (a chroot into a directory): pivot_root impossible, refusing to start containers without it")
	case root.Parent == root.ID && root.FSType == "rootfs":
		return ErrInitramfsRoot
	case root.Parent == root.ID:
		return fmt.Errorf("root (%s) is the mount namespace's own root: pivot_root impossible, refusing to start containers without it", root.FSType)
	}
	return nil
}
