package workload

import (
	"os"
	"testing"

	"github.com/nucbox/nucbox/containers"
	"github.com/nucbox/nucbox/vmm/vmmtest"
)

// The test binary is also the fake QEMU (vmmtest.RunFakeQEMU) and the
// container init (libcontainer re-executes it with "init"; see
// nsenter_test.go).
func TestMain(m *testing.M) {
	if containers.IsInit() {
		containers.Init()
	}
	vmmtest.RunFakeQEMU()
	os.Exit(m.Run())
}
