// Package cgrouptest gives host-tier tests a cgroup v2 hierarchy of their
// own: the test host mounts cgroup v1, whose controllers a v2 mount then
// lacks, but groups, moving processes and starting processes inside a
// group work on any v2 mount.
package cgrouptest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/test/ci"
)

// Mount mounts a cgroup v2 hierarchy on a temporary directory and returns
// the directory; it is unmounted when t ends. It skips t unless it runs
// as root (and fails instead under CI=true).
func Mount(t testing.TB) string {
	t.Helper()
	ci.Require(t, os.Geteuid() == 0, "cgroup tests need root")
	dir := t.TempDir()
	if err := unix.Mount("none", dir, "cgroup2", 0, ""); err != nil {
		t.Fatalf("mount cgroup2 on %s: %v", dir, err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

var seq atomic.Int64

// Group names a group for t under root, unique to the test process; it
// and every group below it are removed when t ends. The v2 hierarchy is
// one for the whole host, wherever it is mounted.
func Group(t testing.TB, root string) string {
	t.Helper()
	name := fmt.Sprintf("nbt-%d-%d", os.Getpid(), seq.Add(1))
	t.Cleanup(func() {
		var dirs []string
		_ = filepath.WalkDir(filepath.Join(root, name), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
		for _, d := range dirs {
			_ = unix.Rmdir(d)
		}
	})
	return name
}
