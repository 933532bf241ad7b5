package vmm

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/internal/cgroup/cgrouptest"
)

// A real QEMU runs inside the guest's cgroup from its start, with its
// seccomp sandbox on, and still boots the guest and powers it off; its
// group is gone once QEMU has exited. The test host's cgroup v2 mount has
// no memory controller (cgroup v1 holds it), so the memory limit itself
// is checked where it can only be refused: with a clear error, before
// QEMU starts. internal/cgroup checks the limit files.
func TestHostCgroupAndSandbox(t *testing.T) {
	hostTier(t, true)
	root := cgrouptest.Mount(t)
	s := tinySpec(t, "")
	s.Cgroup = cgrouptest.Group(t, root) + "/vm-tiny"
	g := startGuest(t, s, Options{CgroupRoot: root})
	pid := g.Status().PID
	proc := func(file string) string {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), file))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if cg := proc("cgroup"); !strings.Contains(cg, "0::/"+s.Cgroup+"\n") {
		t.Errorf("QEMU's cgroups:\n%s\nwant 0::/%s", cg, s.Cgroup)
	}
	if st := proc("status"); !strings.Contains(st, "Seccomp:\t2\n") {
		t.Errorf("QEMU runs without its seccomp filter:\n%s", st)
	}
	waitSerial(t, g, guestUp)
	if err := g.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := g.Status(); st.StoppedBy != "powerdown" || st.LastExit != "exit status 0" {
		t.Errorf("after Stop: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(root, s.Cgroup)); !os.IsNotExist(err) {
		t.Errorf("QEMU's cgroup left behind: %v", err)
	}

	s.MemoryMax = s.Memory + 256<<20
	g = NewGuest(s, Options{CgroupRoot: root, Log: newTestLogger(t)})
	t.Cleanup(func() { g.Stop(context.Background()) })
	err := g.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "memory controller is not available") {
		t.Errorf("a memory limit without the memory controller: %v", err)
	}
}
