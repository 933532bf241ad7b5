package containers

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// The cgroup a spec names is where libcontainer puts the container;
// without one it stays where it always was.
func TestRuntimeSpecCgroup(t *testing.T) {
	img := v1.Config{Cmd: []string{"true"}}
	for _, c := range []struct{ cgroup, want string }{
		{"", "/nucbox/web"},
		{"nucbox.workloads/ct-web", "/nucbox.workloads/ct-web"},
	} {
		s, err := RuntimeSpec(RunSpec{ID: "web", Container: Spec{Name: "web", Cgroup: c.cgroup}, Image: img, Rootfs: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if s.Linux.CgroupsPath != c.want {
			t.Errorf("cgroup %q: cgroups path %q, want %q", c.cgroup, s.Linux.CgroupsPath, c.want)
		}
	}
}

// A container runs in the cgroup its spec names, under the workloads'
// parent, with the limits config gives every container that sets none
// (the test host has cgroup v1: libcontainer makes the group in each
// hierarchy, the appliance's cgroup v2 has one).
func TestRunInSpecCgroup(t *testing.T) {
	r := newRuntime(t, nil)
	img, _ := pullBusybox(t, r)
	parent := fmt.Sprintf("nbt-%d-workloads", os.Getpid())
	t.Cleanup(func() {
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + parent)
		for _, d := range append(dirs, "/sys/fs/cgroup/"+parent) {
			_ = unix.Rmdir(d)
		}
	})
	ct := spec(ctName(t, "placed"), Source{}, "sh", "-c", "echo done")
	ct.Cgroup = parent + "/ct-" + ct.Name
	ct.Memory, ct.PIDs = 1<<30, 1024
	in, lg := run(t, r, ct, img)
	st, err := in.lc.State()
	if err != nil {
		t.Fatal(err)
	}
	for subsys, dir := range st.CgroupPaths {
		if !strings.HasSuffix(dir, "/"+ct.Cgroup) {
			t.Errorf("%s cgroup %s is not the spec's %s", subsys, dir, ct.Cgroup)
		}
	}
	if len(st.CgroupPaths) == 0 {
		t.Fatal("no cgroup paths in the container's state")
	}
	checkCgroup(t, st.CgroupPaths, "pids", []string{"pids.max"}, "1024")
	checkCgroup(t, st.CgroupPaths, "memory", []string{"memory.max", "memory.limit_in_bytes"}, fmt.Sprint(1<<30))
	if _, err := in.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, lg.Tail())
	}
	if out := string(lg.Tail()); !strings.Contains(out, "done") {
		t.Errorf("output:\n%s", out)
	}
}
