package uki_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/image/pxe"
	"github.com/nucbox/nucbox/image/uki"
)

// A box serving its own image to a rack takes the kernel, initramfs and
// command line out of an image built by Build, byte for byte; an image
// without an initramfs gives no bundle at all, and leaves the one there
// in place rather than half of a new one.
func TestBundleFromUKI(t *testing.T) {
	kernel := bytes.Repeat([]byte("K"), 70000)
	initrd := bytes.Repeat([]byte("I0123"), 40001)
	img, err := uki.Build(uki.FakeStub(t), uki.Sections{Linux: kernel, Initrd: initrd, Cmdline: []byte("console=ttyS0 panic=10")})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "pxe", "bundle")
	cmdline, err := pxe.FromUKI(bytes.NewReader(img), dir)
	if err != nil {
		t.Fatal(err)
	}
	if cmdline != "console=ttyS0 panic=10" {
		t.Errorf("command line %q", cmdline)
	}
	for name, want := range map[string][]byte{pxe.KernelName: kernel, pxe.InitrdName: initrd} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes (%v), want the %d of the section", name, len(got), err, len(want))
		}
	}

	noInitrd, err := uki.Build(uki.FakeStub(t), uki.Sections{Linux: []byte("other kernel")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pxe.FromUKI(bytes.NewReader(noInitrd), dir); err == nil || !strings.Contains(err.Error(), "no .initrd section") {
		t.Errorf("an image without an initramfs: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, pxe.KernelName)); !bytes.Equal(got, kernel) {
		t.Errorf("the failed extraction replaced the kernel of the bundle in place")
	}
	ents, _ := os.ReadDir(filepath.Dir(dir))
	if len(ents) != 1 {
		t.Errorf("left behind in %s: %v", filepath.Dir(dir), ents)
	}
}
