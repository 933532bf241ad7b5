package workload

import (
	"testing"
	"time"

	"github.com/nucbox/nucbox/containers"
	"github.com/nucbox/nucbox/netcfg"
	"github.com/nucbox/nucbox/vmm"
)

func TestVMStatus(t *testing.T) {
	started := time.Unix(1000, 0)
	st := vmStatus(vmm.Status{Name: "u1", State: vmm.StateRunning, PID: 42, Started: started, Accel: "tcg", Display: true, LastError: "x",
		StartupTime: 1500 * time.Millisecond, QMPStatus: "running"})
	if st.Name != "u1" || st.State != StateRunning || st.PID != 42 || !st.Started.Equal(started) || st.LastError != "x" ||
		st.StartupTime != 1500*time.Millisecond || st.Brief != "tcg" {
		t.Errorf("status %+v", st)
	}
	if st.Details["accel"] != "tcg" || st.Details["vnc"] != "/v1/vms/u1/vnc" || st.Details["qmp_status"] != "running" {
		t.Errorf("details %v", st.Details)
	}
	if st := vmStatus(vmm.Status{Name: "u2", State: vmm.StateFailed}); len(st.Details) != 0 {
		t.Errorf("a guest that never ran has details: %v", st.Details)
	}
}

func TestContainerStatus(t *testing.T) {
	lease := &netcfg.Lease{Link: "eth0"}
	st := containerStatus(containers.Status{Name: "web", State: containers.StateRunning, Image: "oci-layout:/w", Digest: "sha256:1", Pid: 7,
		NICs: []containers.NICStatus{{Address: "10.0.0.2/24"}, {DHCP: lease, Address: "10.0.1.9/24"}}})
	if st.State != StateRunning || st.PID != 7 || st.Brief != "oci-layout:/w" || st.Details["image"] != "oci-layout:/w" || st.Details["digest"] != "sha256:1" {
		t.Errorf("status %+v", st)
	}
	if len(st.Addresses) != 2 || len(st.Leases) != 1 || st.Leases[0] != lease {
		t.Errorf("addresses %v, leases %v", st.Addresses, st.Leases)
	}
	if st := containerStatus(containers.Status{State: containers.StateExited, LastError: "exit status 1"}); st.State != StateFailed {
		t.Errorf("a container that ended with an error is %s, want failed", st.State)
	}
	if st := containerStatus(containers.Status{State: containers.StateExited}); st.State != StateExited {
		t.Errorf("a container that ended cleanly is %s, want exited", st.State)
	}
}
