package loopdev

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/test/ci"
)

// RequireRoot skips t unless it runs as root, and fails it under CI (see
// package ci). need says what needs root, as in "flashing a loop device
// needs root".
func RequireRoot(t testing.TB, need string) {
	t.Helper()
	ci.Require(t, os.Geteuid() == 0, "%s", need)
}

// Device is an attached loop device.
type Device struct {
	Name string   // sysfs name, "loop3"
	Path string   // device node, "/dev/loop3"
	File *os.File // the open node, for further ioctls; closed at cleanup
}

// Attach attaches backing to a free loop device, with the kernel's
// partition scan when partScan is set, and detaches it when the test
// ends. Without loop devices it skips t, or fails it under CI.
func Attach(t testing.TB, backing string, partScan bool) *Device {
	t.Helper()
	bf, err := os.OpenFile(backing, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		ci.Missing(t, "loop devices unavailable: %v", err)
	}
	defer ctl.Close()
	for attempt := 0; ; attempt++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			t.Fatalf("LOOP_CTL_GET_FREE: %v", err)
		}
		d := &Device{Name: fmt.Sprintf("loop%d", n)}
		d.Path = "/dev/" + d.Name
		d.File, err = open(d.Path)
		if err != nil {
			t.Fatal(err)
		}
		err = configure(d.File, bf, backing, partScan)
		if err == nil {
			t.Cleanup(func() { detach(t, d) })
			return d
		}
		d.File.Close()
		// Another process took the device between the two calls.
		if !errors.Is(err, unix.EBUSY) || attempt > 20 {
			t.Fatalf("attaching %s: %v", d.Path, err)
		}
	}
}

func configure(dev, backing *os.File, name string, partScan bool) error {
	cfg := unix.LoopConfig{Fd: uint32(backing.Fd())}
	if partScan {
		cfg.Info.Flags = unix.LO_FLAGS_PARTSCAN
	}
	copy(cfg.Info.File_name[:], name)
	err := unix.IoctlLoopConfigure(int(dev.Fd()), &cfg)
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOTTY) {
		return err
	}
	// Kernels before 5.8 have no LOOP_CONFIGURE.
	if err := unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_SET_FD, int(backing.Fd())); err != nil {
		return err
	}
	if err := unix.IoctlLoopSetStatus64(int(dev.Fd()), &cfg.Info); err != nil {
		unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_CLR_FD, 0)
		return err
	}
	return nil
}

func detach(t testing.TB, d *Device) {
	// The kernel refuses to detach while a partition is mounted, and
	// udev may still hold the device open for a moment.
	for i := 0; ; i++ {
		err := unix.IoctlSetInt(int(d.File.Fd()), unix.LOOP_CLR_FD, 0)
		if err == nil || i == 50 {
			if err != nil {
				t.Errorf("detach %s: %v", d.Path, err)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.File.Close()
}

// open opens a loop node, waiting for devtmpfs to create it.
func open(path string) (*os.File, error) {
	for i := 0; i < 100; i++ {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if !errors.Is(err, os.ErrNotExist) {
			return f, err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, fmt.Errorf("%s did not appear", path)
}
