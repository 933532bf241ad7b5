package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount is where PID 1 mounts the cgroup v2 hierarchy.
const Mount = "/sys/fs/cgroup"

// Limits are a group's memory.max and pids.max; 0 leaves the kernel's
// "max".
type Limits struct {
	Memory int64 `json:"memory,omitempty"`
	PIDs   int64 `json:"pids,omitempty"`
}

// IsV2 tells whether root is a cgroup v2 mount.
func IsV2(root string) bool {
	var st unix.Statfs_t
	return unix.Statfs(root, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// Create makes the group path (relative to root, such as
// "nucbox.workloads/vm-a") and its missing ancestors, enables the
// controllers its limits need on the way down, and writes l. A file is
// written only when it differs, so a repeated Create changes nothing; it
// returns the number of writes.
func Create(root, path string, l Limits) (int, error) {
	if _, err := groupDir(root, path); err != nil {
		return 0, err
	}
	if !IsV2(root) {
		return 0, fmt.Errorf("cgroup %s: %s is not a cgroup v2 mount", path, root)
	}
	return create(root, path, l)
}

// limit is one controller's limit file.
type limit struct {
	controller, file string
	value            int64
}

func (l Limits) files() []limit {
	return []limit{{"memory", "memory.max", pageDown(l.Memory)}, {"pids", "pids.max", l.PIDs}}
}

func create(root, path string, l Limits) (int, error) {
	var need []string
	for _, f := range l.files() {
		if f.value > 0 {
			need = append(need, f.controller)
		}
	}
	changes := 0
	parent := root
	for _, name := range strings.Split(filepath.Clean(path), "/") {
		n, err := enable(parent, need)
		changes += n
		if err != nil {
			return changes, fmt.Errorf("cgroup %s: %w", path, err)
		}
		parent = filepath.Join(parent, name)
		switch err := os.Mkdir(parent, 0o755); {
		case err == nil:
			changes++
		case !errors.Is(err, fs.ErrExist):
			return changes, fmt.Errorf("cgroup %s: %w", path, err)
		}
	}
	for _, f := range l.files() {
		file := filepath.Join(parent, f.file)
		v := "max"
		if f.value > 0 {
			v = strconv.FormatInt(f.value, 10)
		} else if _, err := os.Stat(file); err != nil {
			// No limit, and no controller to lift one.
			continue
		}
		changed, err := write(file, v)
		if changed {
			changes++
		}
		if err != nil {
			return changes, fmt.Errorf("cgroup %s: %w", path, err)
		}
	}
	return changes, nil
}

// enable turns controllers on for the children of group dir.
func enable(dir string, controllers []string) (int, error) {
	if len(controllers) == 0 {
		return 0, nil
	}
	avail, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return 0, err
	}
	on, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return 0, err
	}
	changes := 0
	for _, c := range controllers {
		if slices.Contains(strings.Fields(string(on)), c) {
			continue
		}
		if !slices.Contains(strings.Fields(string(avail)), c) {
			return changes, fmt.Errorf("the %s controller is not available in %s (cgroup.controllers: %q)",
				c, dir, strings.TrimSpace(string(avail)))
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+"+c), 0); err != nil {
			return changes, fmt.Errorf("enable %s in %s: %w", c, dir, err)
		}
		changes++
	}
	return changes, nil
}

// write sets a cgroup file to value unless it reads so already.
func write(file, value string) (bool, error) {
	cur, err := os.ReadFile(file)
	if err != nil {
		return false, err
	}
	if strings.TrimSpace(string(cur)) == value {
		return false, nil
	}
	return true, os.WriteFile(file, []byte(value), 0)
}

// pageDown rounds a memory limit down to whole pages, as the kernel
// stores it: a limit written unrounded would read back different and be
// written again at every apply.
func pageDown(n int64) int64 {
	p := int64(os.Getpagesize())
	return n / p * p
}

// Open opens the group's directory: its descriptor in
// syscall.SysProcAttr.CgroupFD starts a process inside the group, so that
// every page it touches from its first instruction on is charged there.
func Open(root, path string) (*os.File, error) {
	dir, err := groupDir(root, path)
	if err != nil {
		return nil, err
	}
	return os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// Remove removes the group once its processes are gone. A group that is
// gone already is no error.
func Remove(root, path string) error {
	dir, err := groupDir(root, path)
	if err != nil {
		return err
	}
	if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("cgroup %s: %w", path, err)
	}
	return nil
}

// Read returns a group's limits as the kernel has them.
func Read(root, path string) (Limits, error) {
	dir, err := groupDir(root, path)
	if err != nil {
		return Limits{}, err
	}
	var l Limits
	for _, f := range []struct {
		name string
		to   *int64
	}{{"memory.max", &l.Memory}, {"pids.max", &l.PIDs}} {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // no controller, no limit
		}
		if err != nil {
			return l, err
		}
		if s := strings.TrimSpace(string(b)); s != "max" {
			if *f.to, err = strconv.ParseInt(s, 10, 64); err != nil {
				return l, fmt.Errorf("%s/%s: %w", dir, f.name, err)
			}
		}
	}
	return l, nil
}

func groupDir(root, path string) (string, error) {
	if path == "" || !filepath.IsLocal(path) {
		return "", fmt.Errorf("cgroup %q: not a path below the cgroup mount", path)
	}
	return filepath.Join(root, path), nil
}
