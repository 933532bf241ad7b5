package datapart

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/loopdev"
	"golang.org/x/sys/unix"
)

// requireRoot skips host-tier tests unless they run as root, and fails
// them under CI (CI=true), where a skip would hide a broken machine.
func requireRoot(t *testing.T) {
	t.Helper()
	loopdev.RequireRoot(t, "host-tier data partition tests need root for loop devices and mounts")
}

// loopDisk attaches image to a free loop device with partition scanning
// and detaches it when the test ends. It returns the loop device's sysfs
// name ("loop3") and a sysfs block directory that lists only that device,
// so that Setup under test never sees the machine's real disks or another
// test's loop devices.
func loopDisk(t *testing.T, image string) (name, sysBlock string) {
	t.Helper()
	dev := loopdev.Attach(t, image, true)
	name = dev.Name
	if _, err := os.Stat(filepath.Join("/sys/class/block", name+"p1")); err != nil {
		// LOOP_CONFIGURE scans synchronously, so no partition now means
		// the kernel has no GPT parser (CONFIG_EFI_PARTITION is off in
		// some VM kernels). Add what the scan would have found, through
		// the same BLKPG interface Setup uses for its changes.
		addPartitions(t, dev.File, image)
	}
	sysBlock = t.TempDir()
	if err := os.Symlink(filepath.Join("/sys/class/block", name), filepath.Join(sysBlock, name)); err != nil {
		t.Fatal(err)
	}
	return name, sysBlock
}

func addPartitions(t *testing.T, dev *os.File, image string) {
	t.Helper()
	tab := readTable(t, image, 512)
	for _, p := range tab.Partitions {
		if err := blkpg(dev, unix.BLKPG_ADD_PARTITION, p.Index, int64(p.Start)*512, int64(p.End-p.Start+1)*512); err != nil {
			t.Fatalf("add partition %d: %v", p.Index, err)
		}
	}
	if !partScanLogged.Swap(true) {
		t.Log("this kernel does not parse GPTs (CONFIG_EFI_PARTITION off): partitions added with BLKPG")
	}
}

var partScanLogged atomic.Bool

// waitParts waits until the kernel lists n partitions of the loop device
// and their nodes exist.
func waitParts(t *testing.T, name string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := true
		for i := 1; i <= n; i++ {
			p := fmt.Sprintf("%sp%d", name, i)
			if _, err := os.Stat(filepath.Join("/sys/class/block", p)); err != nil {
				ok = false
			} else if _, err := os.Stat(filepath.Join("/dev", p)); err != nil {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("partitions of %s did not appear", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mountPoint returns a fresh directory and unmounts whatever Setup
// mounted on it when the test ends.
func mountPoint(t *testing.T) string {
	t.Helper()
	mp := filepath.Join(t.TempDir(), "var", "lib", "nucbox")
	t.Cleanup(func() { unmount(t, mp) })
	return mp
}

func unmount(t *testing.T, mp string) {
	t.Helper()
	for {
		err := unix.Unmount(mp, 0)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return // not (or no longer) a mount point
		}
		if err != nil {
			t.Errorf("unmount %s: %v", mp, err)
			return
		}
	}
}
