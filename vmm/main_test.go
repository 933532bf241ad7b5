package vmm

import (
	"os"
	"testing"

	"github.com/nucbox/nucbox/vmm/vmmtest"
	"github.com/u-root/u-root/pkg/cpio"
)

// The test binary doubles as the fake QEMU (see vmmtest.RunFakeQEMU).
func TestMain(m *testing.M) {
	vmmtest.RunFakeQEMU()
	os.Exit(m.Run())
}

const (
	fakeQEMUEnv   = vmmtest.FakeQEMUEnv
	guestUp       = vmmtest.GuestUp
	guestPowerOff = vmmtest.GuestPowerOff
	guestAppend   = vmmtest.GuestAppend
)

func hostTier(t testing.TB, needRoot bool) { t.Helper(); vmmtest.HostTier(t, needRoot) }

func debianKernel() (kernel, modules string, err error) { return vmmtest.DebianKernel() }

func buildTinyInitramfs(t testing.TB, dir string) string {
	t.Helper()
	return vmmtest.BuildTinyInitramfs(t, dir)
}

func writeInitramfs(t testing.TB, path string, recs []cpio.Record) string {
	t.Helper()
	return vmmtest.WriteInitramfs(t, path, recs)
}
