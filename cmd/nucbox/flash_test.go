package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFlashAndMediaGolden(t *testing.T) {
	notDevice := filepath.Join(t.TempDir(), "not-a-device")
	if err := os.WriteFile(notDevice, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []goldenCase{
		{"flash-help", []string{"flash", "--help"}, 0},
		{"flash-no-args", []string{"flash"}, 2},
		{"flash-missing-image", []string{"flash", "testdata/no-such.img", "/dev/null"}, 1},
		{"image-build-pxe-no-url", []string{"image", "build", "-c", "../../examples/basic.yaml", "-o", "out", "--kernel", "k", "--modules", "m", "--pxe"}, 2},
		{"image-build-url-no-pxe", []string{"image", "build", "-c", "../../examples/basic.yaml", "-o", "out", "--kernel", "k", "--modules", "m", "--pxe-server", "10.0.0.1"}, 2},
		{"image-build-bad-disk-size", []string{"image", "build", "-c", "../../examples/basic.yaml", "-o", "out", "--kernel", "k", "--modules", "m", "--disk", "1GB"}, 2},
		{"image-build-esp-no-disk", []string{"image", "build", "-c", "../../examples/basic.yaml", "-o", "out", "--kernel", "k", "--modules", "m", "--esp-size", "64MiB"}, 2},
	}
	runGolden(t, "", tests, nil, nil)
	// A regular file is refused before anything is shown or asked.
	_, stderr, code := run("flash", "--yes", "../../examples/basic.yaml", notDevice)
	if code != 1 || !strings.Contains(stderr, "is not a block device") {
		t.Errorf("flashing onto a regular file: status %d, %s", code, stderr)
	}
}

func TestParseDiskSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"1G", 1 << 30, false},
		{"1GiB", 1 << 30, false},
		{"512M", 512 << 20, false},
		{"1536MiB", 1536 << 20, false},
		{"1GB", 0, true},
		{"0", 0, true},
		{"1.5G", 0, true},
	}
	for _, tt := range tests {
		got, err := parseDiskSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseDiskSize(%q) = %d, %v", tt.in, got, err)
		}
	}
}
