package flash

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// requireRoot skips the host-tier test unless it runs as root, and fails
// it under CI, where a skip would hide a machine that cannot run it.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if v := strings.ToLower(os.Getenv("CI")); v != "" && v != "false" && v != "0" {
		t.Fatal("flashing a loop device needs root (CI is set, so not skipping)")
	}
	t.Skip("flashing a loop device needs root; run as root, or with CI=true to enforce")
}

// attachLoop attaches backing to a free loop device and detaches it when
// the test ends.
func attachLoop(t *testing.T, backing string) string {
	t.Helper()
	bf, err := os.OpenFile(backing, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("loop devices unavailable: %v", err)
		}
		t.Skipf("loop devices unavailable: %v", err)
	}
	defer ctl.Close()
	for attempt := 0; ; attempt++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			t.Fatalf("LOOP_CTL_GET_FREE: %v", err)
		}
		path := fmt.Sprintf("/dev/loop%d", n)
		dev, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		cfg := unix.LoopConfig{Fd: uint32(bf.Fd())}
		copy(cfg.Info.File_name[:], backing)
		err = unix.IoctlLoopConfigure(int(dev.Fd()), &cfg)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTTY) {
			// Kernels before 5.8 have no LOOP_CONFIGURE.
			err = unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_SET_FD, int(bf.Fd()))
		}
		if err == nil {
			t.Cleanup(func() {
				for i := 0; ; i++ {
					err := unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_CLR_FD, 0)
					if err == nil || i == 50 {
						if err != nil {
							t.Errorf("detach %s: %v", path, err)
						}
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				dev.Close()
			})
			return path
		}
		dev.Close()
		if !errors.Is(err, unix.EBUSY) || attempt > 20 {
			t.Fatalf("attaching %s: %v", path, err)
		}
	}
}

func TestFlashLoopDevice(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	image := filepath.Join(dir, "nucbox.img")
	data := make([]byte, 9<<20+4096) // not a whole number of chunks
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(image, data, 0o644); err != nil {
		t.Fatal(err)
	}
	backing := filepath.Join(dir, "stick")
	f, err := os.Create(backing)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse, and filled with a pattern where the image will go, so that a
	// write that silently did nothing cannot pass.
	if err := f.Truncate(32 << 20); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xee}, len(data)), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	dev := attachLoop(t, backing)

	var s System
	d, err := s.Inspect(dev)
	if err != nil {
		t.Fatal(err)
	}
	if d.Size != 32<<20 {
		t.Errorf("%s: size %d, want %d", dev, d.Size, 32<<20)
	}
	if err := s.Check(d, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(d, 64<<20); err == nil || !strings.Contains(err.Error(), "holds only 32.0 MiB") {
		t.Errorf("a 64 MiB image for a 32 MiB device: %v", err)
	}

	res, err := Write(context.Background(), image, dev, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes != int64(len(data)) {
		t.Errorf("wrote %d bytes, want %d", res.Bytes, len(data))
	}
	got, err := os.ReadFile(backing)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:len(data)], data) {
		t.Error("the backing file does not hold the image")
	}
	if !bytes.Equal(got[len(data):], make([]byte, len(got)-len(data))) {
		t.Error("bytes after the image were touched")
	}
}
