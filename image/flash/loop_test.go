package flash

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/test/loopdev"
)

func TestFlashLoopDevice(t *testing.T) {
	loopdev.RequireRoot(t, "flashing a loop device needs root")
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
	dev := loopdev.Attach(t, backing, false).Path

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
