package pxe

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/nucbox/nucbox/image/uki"
)

// FromUKI writes the kernel and initramfs of a unified kernel image into
// dir as a bundle (KernelName, InitrdName), and returns the image's
// kernel command line. The files are written into a fresh directory
// beside dir, synced and moved into place in one rename: a reader sees
// the old bundle, no bundle, or the whole new one, never half of one.
func FromUKI(img io.ReaderAt, dir string) (cmdline string, err error) {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for name, section := range map[string]string{KernelName: uki.Linux, InitrdName: uki.Initrd} {
		if err := copyOut(img, section, filepath.Join(tmp, name)); err != nil {
			return "", err
		}
	}
	if b, err := readCmdline(img); err == nil {
		cmdline = b
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return cmdline, nil
}

func readCmdline(img io.ReaderAt) (string, error) {
	b, err := uki.ReadSection(img, uki.Cmdline)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\x00\n"), nil
}

// copyOut writes one section to path, synced; an empty section is an
// error, since it would boot nothing.
func copyOut(img io.ReaderAt, section, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	n, err := uki.CopySection(img, section, f)
	if err == nil && n == 0 {
		err = fmt.Errorf("uki: section %s is empty", section)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
