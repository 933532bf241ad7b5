package cgroup

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nucbox/nucbox/internal/cgroup/cgrouptest"
)

// A process started with the group's descriptor runs inside the group
// from its first instruction; Remove takes the group away once the
// process is gone. Limits that need a controller the hierarchy lacks
// (the test host's v2 mount has none: cgroup v1 holds them) are refused
// with the controller named.
func TestStartInsideGroup(t *testing.T) {
	root := cgrouptest.Mount(t)
	if !IsV2(root) {
		t.Fatalf("%s is not cgroup v2 after mounting it", root)
	}
	if IsV2(t.TempDir()) {
		t.Error("a plain directory passes for cgroup v2")
	}
	path := cgrouptest.Group(t, root) + "/vm-a"
	n, err := Create(root, path, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("Create made %d changes, want 2 (two directories)", n)
	}
	if n, err := Create(root, path, Limits{}); err != nil || n != 0 {
		t.Errorf("Create again: %d changes, %v; want none", n, err)
	}

	f, err := Open(root, path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "0::/"+path+"\n") {
		t.Errorf("the process's cgroups:\n%s\nwant 0::/%s", b, path)
	}
	if err := Remove(root, path); err == nil {
		t.Error("Remove of a group with a process in it succeeded")
	}
	cmd.Process.Kill()
	cmd.Wait()
	if err := Remove(root, path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, path)); !os.IsNotExist(err) {
		t.Errorf("group still there after Remove: %v", err)
	}
	if err := Remove(root, path); err != nil {
		t.Errorf("Remove of a removed group: %v", err)
	}

	_, err = Create(root, path, Limits{Memory: 64 << 20})
	if err == nil || !strings.Contains(err.Error(), "memory controller is not available") {
		t.Errorf("a memory limit without the memory controller: %v", err)
	}
	if _, err := Create(t.TempDir(), "x", Limits{}); err == nil || !strings.Contains(err.Error(), "not a cgroup v2 mount") {
		t.Errorf("Create outside cgroup v2: %v", err)
	}
	for _, bad := range []string{"", "../x", "/abs"} {
		if _, err := Create(root, bad, Limits{}); err == nil {
			t.Errorf("Create(%q) accepted", bad)
		}
	}
}

// fakeGroup writes the files of a group as a v2 hierarchy with the
// memory and pids controllers shows them.
func fakeGroup(t *testing.T, dir, subtree string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for f, v := range map[string]string{
		"cgroup.controllers": "cpu memory pids\n", "cgroup.subtree_control": subtree,
		"memory.max": "max\n", "pids.max": "max\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The limits as the kernel's files take them (memory in whole pages),
// written once: the same limits again write nothing, a lifted limit is
// written back to max.
func TestLimitFiles(t *testing.T) {
	root := t.TempDir()
	fakeGroup(t, root, "memory pids\n")
	fakeGroup(t, filepath.Join(root, "w"), "memory pids\n")
	fakeGroup(t, filepath.Join(root, "w/vm-a"), "")
	l := Limits{Memory: 100<<20 + 123, PIDs: 50}
	n, err := create(root, "w/vm-a", l)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("create made %d changes, want 2 (memory.max, pids.max)", n)
	}
	got, err := Read(root, "w/vm-a")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Limits{Memory: 100 << 20, PIDs: 50}); got != want {
		t.Errorf("limits %+v, want %+v (memory in whole pages)", got, want)
	}
	if n, err := create(root, "w/vm-a", l); err != nil || n != 0 {
		t.Errorf("create again: %d changes, %v; want none", n, err)
	}
	if n, err := create(root, "w/vm-a", Limits{PIDs: 50}); err != nil || n != 1 {
		t.Errorf("lifting the memory limit: %d changes, %v; want 1", n, err)
	}
	if got, _ := Read(root, "w/vm-a"); got.Memory != 0 {
		t.Errorf("memory limit %d after lifting it", got.Memory)
	}

	// Controllers off: each level turns them on for its children.
	root = t.TempDir()
	fakeGroup(t, root, "")
	fakeGroup(t, filepath.Join(root, "w"), "")
	fakeGroup(t, filepath.Join(root, "w/vm-a"), "")
	if n, err := create(root, "w/vm-a", Limits{Memory: 1 << 30}); err != nil || n != 3 {
		t.Errorf("create with the memory controller off: %d changes, %v; want 3 (two levels, memory.max)", n, err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "w/cgroup.subtree_control")); string(b) != "+memory" {
		t.Errorf("w/cgroup.subtree_control = %q, want +memory", b)
	}
}
