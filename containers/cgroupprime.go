package containers

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
)

// Moving a process into a cgroup takes the kernel's cgroup threadgroup
// lock for writing. The first writer after a quiet moment waits for an
// RCU grace period before it gets the lock (the lock's readers are then
// switched to their slow path), and writers that follow within a grace
// period of the last one do not wait. That wait spans several timer
// ticks: 4 to 16 ms (up to 23) measured on a 2-CPU test host at HZ=250.
//
// libcontainer moves the container's init into its cgroup while the
// init waits, so every start of a box that was otherwise idle paid the
// whole wait in the middle of its critical path. cgroupPrime.prime
// starts that grace period when a start begins instead, with a move that
// changes nothing: it writes this process's own pid into the cgroup.procs
// of the cgroup it already is in. (A pid that does not exist would not
// do: the kernel looks the task up before it takes the lock.) The grace
// period then runs while the rootfs is mounted and the init is forked,
// and the init's move finds the lock still fast. The container's cgroup,
// its limits and the moment its init joins them are libcontainer's as
// before.
//
// A kernel whose cgroup hierarchy is mounted with favordynmods keeps the
// lock in its writer-friendly mode all the time; there the write is
// skipped.

// cgroupPrime says where prime writes: the mount point of one cgroup
// hierarchy, the cgroup mounted there, and the name of the hierarchy in
// /proc/self/cgroup ("" for cgroup v2).
type cgroupPrime struct {
	mount, root, controller string
}

// newCgroupPrime finds a hierarchy to prime, or returns nil when priming
// does not apply (no cgroup hierarchy, or favordynmods).
func newCgroupPrime() *cgroupPrime {
	if favorDynMods() {
		return nil
	}
	if cgroups.IsCgroup2UnifiedMode() {
		return &cgroupPrime{mount: "/sys/fs/cgroup", root: "/"}
	}
	// cgroup v1: every hierarchy shares the lock; any one will do.
	for _, ss := range []string{"pids", "memory", "cpu", "devices"} {
		if mnt, root, err := cgroups.FindCgroupMountpointAndRoot("", ss); err == nil {
			return &cgroupPrime{mount: mnt, root: root, controller: ss}
		}
	}
	return nil
}

// favorDynMods reports whether a cgroup hierarchy is mounted with
// favordynmods, which the kernel applies to the lock system-wide.
func favorDynMods() bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ... - fstype source superoptions
		_, after, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields := strings.Fields(after)
		if len(fields) < 3 || !strings.HasPrefix(fields[0], "cgroup") {
			continue
		}
		if slices.Contains(strings.Split(fields[2], ","), "favordynmods") {
			return true
		}
	}
	return false
}

// prime moves this process into the cgroup it is in, to start the lock's
// grace period early (see above). It blocks for that grace period: run
// it in its own goroutine, which can ignore the error (without the write
// a start is only slower). The cgroup is looked up each time, so that
// the write never moves the process back to where it was.
func (p *cgroupPrime) prime() error {
	own, err := cgroups.ParseCgroupFile("/proc/self/cgroup")
	if err != nil {
		return err
	}
	path, ok := own[p.controller]
	if !ok {
		return fmt.Errorf("no %q hierarchy in /proc/self/cgroup", p.controller)
	}
	rel, err := filepath.Rel(p.root, path)
	if err != nil || !filepath.IsLocal(rel) {
		return fmt.Errorf("cgroup %s is outside the mount of %s", path, p.root)
	}
	f, err := os.OpenFile(filepath.Join(p.mount, rel, "cgroup.procs"), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.Itoa(os.Getpid()))
	return errors.Join(err, f.Close())
}
