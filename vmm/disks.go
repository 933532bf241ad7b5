package vmm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// QemuImg runs qemu-img. Disks are created and grown by qemu-img rather
// than written in Go: qcow2's refcount and L1/L2 tables are easy to get
// subtly wrong, and the tool is on the box anyway with QEMU.
type QemuImg struct {
	Path  string // default "qemu-img" from PATH
	Procs Procs  // default ExecProcs
}

func (q QemuImg) run(ctx context.Context, args ...string) ([]byte, error) {
	path, procs := q.Path, q.Procs
	if path == "" {
		path = "qemu-img"
	}
	if procs == nil {
		procs = ExecProcs{}
	}
	return output(ctx, procs, path, args...)
}

// ImageInfo is the part of `qemu-img info` vmm uses.
type ImageInfo struct {
	Format      string `json:"format"`
	VirtualSize int64  `json:"virtual-size"`
	Backing     string `json:"backing-filename"`
}

// Info reads an image's format and virtual size. The format is probed;
// callers only use it for images they are about to name explicitly.
func (q QemuImg) Info(ctx context.Context, path string) (ImageInfo, error) {
	out, err := q.run(ctx, "info", "--output=json", path)
	if err != nil {
		return ImageInfo{}, err
	}
	var info ImageInfo
	if err := json.Unmarshal(out, &info); err != nil {
		return ImageInfo{}, fmt.Errorf("qemu-img info %s: %w", path, err)
	}
	return info, nil
}

// Create makes a new image. A qcow2 overlay records its backing file and
// the backing file's format, so QEMU never probes the base image's format
// (a raw base image could otherwise pose as qcow2 and name files of its
// choosing as its own backing). size 0 takes the backing file's size.
func (q QemuImg) Create(ctx context.Context, path, format string, size int64, backing, backingFormat string) error {
	args := []string{"create", "-q", "-f", format}
	if backing != "" {
		args = append(args, "-b", backing, "-F", backingFormat)
	}
	args = append(args, path)
	if size > 0 {
		args = append(args, strconv.FormatInt(size, 10))
	}
	_, err := q.run(ctx, args...)
	return err
}

// Resize sets an image's virtual size. Only growing is safe; callers never
// ask to shrink.
func (q QemuImg) Resize(ctx context.Context, path, format string, size int64) error {
	_, err := q.run(ctx, "resize", "-q", "-f", format, path, strconv.FormatInt(size, 10))
	return err
}

// CheckResult is `qemu-img check` on a qcow2 image.
type CheckResult struct {
	Corruptions int `json:"corruptions"`
	Leaks       int `json:"leaks"`
	CheckErrors int `json:"check-errors"`
}

// Clean reports an image without corruptions, leaks or check errors.
// Leaked clusters are harmless but only appear after an unclean stop, so a
// clean shutdown must not leave any.
func (r CheckResult) Clean() bool { return r.Corruptions == 0 && r.Leaks == 0 && r.CheckErrors == 0 }

// Check runs `qemu-img check` on a qcow2 image. It exits non-zero when it
// finds problems; those are returned in the result, not as an error.
func (q QemuImg) Check(ctx context.Context, path string) (CheckResult, error) {
	out, err := q.run(ctx, "check", "-f", "qcow2", "--output=json", path)
	var ce *CommandError
	// 2: corruptions, 3: leaks; the JSON report is still written.
	if err != nil && !(errors.As(err, &ce) && (exitCode(ce.Err) == 2 || exitCode(ce.Err) == 3)) {
		return CheckResult{}, err
	}
	var r CheckResult
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		return CheckResult{}, fmt.Errorf("qemu-img check %s: %w", path, jerr)
	}
	return r, nil
}

// qcow2Magic starts every qcow2 file.
var qcow2Magic = []byte{'Q', 'F', 'I', 0xfb}

func isQcow2(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, nil
		}
		return false, err
	}
	return bytes.Equal(magic[:], qcow2Magic), nil
}

// PrepareDisks makes the VM's disks ready for QEMU: it creates missing
// disks that have a size (qcow2 overlays on their backing image), grows
// disks whose configured size grew, and refuses what QEMU would trip over
// with a less helpful message. A configured size smaller than the disk
// is never applied: shrinking would cut off guest data. The returned
// warnings belong in the guest's status.
func PrepareDisks(ctx context.Context, q QemuImg, disks []Disk) (warnings []string, err error) {
	for i, d := range disks {
		w, err := prepareDisk(ctx, q, d)
		if err != nil {
			return warnings, fmt.Errorf("disk %d (%s): %w", i, d.Path, err)
		}
		if w != "" {
			warnings = append(warnings, fmt.Sprintf("disk %d (%s): %s", i, d.Path, w))
		}
	}
	return warnings, nil
}

func prepareDisk(ctx context.Context, q QemuImg, d Disk) (string, error) {
	path, format := d.Path, d.Format
	_, statErr := os.Stat(path)
	switch {
	case errors.Is(statErr, fs.ErrNotExist):
		return "", createDisk(ctx, q, d)
	case statErr != nil:
		return "", statErr
	}
	if format == "qcow2" {
		ok, err := isQcow2(path)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", fmt.Errorf("%s is not a qcow2 image (set format: raw for a raw image)", path)
		}
	}
	if d.Size == 0 || d.ReadOnly {
		return "", nil
	}
	info, err := q.Info(ctx, path)
	if err != nil {
		return "", err
	}
	want := d.Size
	switch {
	case want > info.VirtualSize:
		if err := q.Resize(ctx, path, format, want); err != nil {
			return "", err
		}
	case want < info.VirtualSize:
		return fmt.Sprintf("configured size %d is smaller than the disk's %d bytes; not shrunk", want, info.VirtualSize), nil
	}
	return "", nil
}

func createDisk(ctx context.Context, q QemuImg, d Disk) error {
	path, format := d.Path, d.Format
	if d.ReadOnly {
		return fmt.Errorf("%s does not exist (read-only disks are not created)", path)
	}
	var backing, backingFormat string
	if d.Backing != "" {
		backing = d.Backing
		if _, err := os.Stat(backing); err != nil {
			return fmt.Errorf("backing image: %w", err)
		}
		info, err := q.Info(ctx, backing)
		if err != nil {
			return err
		}
		backingFormat = info.Format
	} else if d.Size == 0 {
		return fmt.Errorf("%s does not exist; give the disk a size (or a backing image) to create it", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return q.Create(ctx, path, format, d.Size, backing, backingFormat)
}
