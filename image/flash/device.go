package flash

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	"github.com/nucbox/nucbox/image/internal/bar"
	"github.com/nucbox/nucbox/internal/natsort"
)

// System is where device information is read from.
type System struct {
	Sys       string // sysfs root, default /sys
	Dev       string // device directory, default /dev
	MountInfo string // default /proc/self/mountinfo
}

func (s System) sys() string {
	if s.Sys == "" {
		return "/sys"
	}
	return s.Sys
}

func (s System) dev() string {
	if s.Dev == "" {
		return "/dev"
	}
	return s.Dev
}

func (s System) mountInfo() string {
	if s.MountInfo == "" {
		return "/proc/self/mountinfo"
	}
	return s.MountInfo
}

// Device is a whole block device.
type Device struct {
	Name      string // kernel name, e.g. sdb
	Path      string // device node, e.g. /dev/sdb
	Dev       string // major:minor
	Size      int64
	Vendor    string
	Model     string
	Removable bool
	ReadOnly  bool
	// Holders are devices stacked on the disk itself (device mapper).
	Holders    []string
	Partitions []Partition
}

// Partition is one partition of a Device.
type Partition struct {
	Name    string // e.g. sdb1
	Dev     string // major:minor
	Size    int64
	Label   string // file system label, when udev knows it
	PartLab string // GPT partition name, when udev knows it
	Holders []string
}

// Describe is a one-line summary: name, vendor and model, size.
func (d *Device) Describe() string {
	parts := []string{d.Path}
	if id := strings.TrimSpace(d.Vendor + " " + d.Model); id != "" {
		parts = append(parts, id)
	}
	parts = append(parts, bar.Size(d.Size))
	if d.Removable {
		parts = append(parts, "removable")
	}
	return strings.Join(parts, ", ")
}

// Inspect reads what the system knows about device, given as a path
// (/dev/sdb, /dev/disk/by-id/usb-...) or a kernel name (sdb).
func (s System) Inspect(device string) (*Device, error) {
	name := device
	if strings.Contains(device, "/") {
		real, err := filepath.EvalSymlinks(device)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(real)
		if err != nil {
			return nil, err
		}
		if fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0 {
			return nil, fmt.Errorf("%s is not a block device; give a whole disk such as /dev/sdb", device)
		}
		name = filepath.Base(real)
	}
	block := filepath.Join(s.sys(), "class/block", name)
	if _, err := os.Stat(block); err != nil {
		return nil, fmt.Errorf("%s: no such block device in %s", device, filepath.Join(s.sys(), "class/block"))
	}
	if _, err := os.Stat(filepath.Join(block, "partition")); err == nil {
		whole := filepath.Base(filepath.Dir(mustEval(block)))
		return nil, fmt.Errorf("%s is a partition of %s; give the whole device (%s)", name, whole, filepath.Join(s.dev(), whole))
	}
	d := &Device{Name: name, Path: filepath.Join(s.dev(), name)}
	d.Dev = readString(filepath.Join(block, "dev"))
	d.Size = readSectors(filepath.Join(block, "size"))
	d.Vendor = readString(filepath.Join(block, "device/vendor"))
	d.Model = readString(filepath.Join(block, "device/model"))
	d.Removable = readString(filepath.Join(block, "removable")) == "1"
	d.ReadOnly = readString(filepath.Join(block, "ro")) == "1"
	d.Holders = listDir(filepath.Join(block, "holders"))

	labels := s.udevNames("disk/by-label")
	partLabels := s.udevNames("disk/by-partlabel")
	ents, err := os.ReadDir(block)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		pdir := filepath.Join(block, e.Name())
		if _, err := os.Stat(filepath.Join(pdir, "partition")); err != nil {
			continue
		}
		d.Partitions = append(d.Partitions, Partition{
			Name:    e.Name(),
			Dev:     readString(filepath.Join(pdir, "dev")),
			Size:    readSectors(filepath.Join(pdir, "size")),
			Label:   labels[e.Name()],
			PartLab: partLabels[e.Name()],
			Holders: listDir(filepath.Join(pdir, "holders")),
		})
	}
	sort.Slice(d.Partitions, func(i, j int) bool { return natsort.Less(d.Partitions[i].Name, d.Partitions[j].Name) })
	return d, nil
}

func mustEval(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// udevNames maps kernel names to the names udev gave them in a
// /dev/disk/by-* directory.
func (s System) udevNames(dir string) map[string]string {
	out := map[string]string{}
	ents, err := os.ReadDir(filepath.Join(s.dev(), dir))
	if err != nil {
		return out
	}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(s.dev(), dir, e.Name()))
		if err != nil {
			continue
		}
		out[filepath.Base(target)] = unescapeUdev(e.Name())
	}
	return out
}

// unescapeUdev undoes udev's \x20-style escapes in link names.
func unescapeUdev(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if n, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Mounts reads the mount table.
func (s System) Mounts() ([]*mountinfo.Info, error) {
	f, err := os.Open(s.mountInfo())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return mountinfo.GetMountsFromReader(f, nil)
}

// Check returns why d must not be overwritten with an image of
// imageSize bytes, or nil. Every reason found is reported, the system's
// own disk first.
func (s System) Check(d *Device, imageSize int64) error {
	mounts, err := s.Mounts()
	if err != nil {
		return fmt.Errorf("cannot tell what is mounted: %w", err)
	}
	type node struct{ name, dev string }
	nodes := []node{{d.Name, d.Dev}}
	for _, p := range d.Partitions {
		nodes = append(nodes, node{p.Name, p.Dev})
	}
	var root, system, mounted, other []string
	for _, n := range nodes {
		for _, m := range mounts {
			bySource := strings.HasPrefix(m.Source, "/dev/") &&
				filepath.Base(mustEval(filepath.Join(s.dev(), strings.TrimPrefix(m.Source, "/dev/")))) == n.name
			dev := fmt.Sprintf("%d:%d", m.Major, m.Minor) // as sysfs writes it
			if !(n.dev != "" && dev == n.dev) && !bySource {
				continue
			}
			switch m.Mountpoint {
			case "/":
				root = append(root, fmt.Sprintf("%s holds the running system's root file system (%s is mounted at /)", d.Path, n.name))
			case "/boot", "/boot/efi", "/efi":
				system = append(system, fmt.Sprintf("%s holds the running system's %s (%s is mounted there)", d.Path, m.Mountpoint, n.name))
			default:
				mounted = append(mounted, fmt.Sprintf("%s is mounted at %s: unmount it first (umount %s)", n.name, m.Mountpoint, m.Mountpoint))
			}
		}
	}
	if len(d.Holders) > 0 {
		other = append(other, fmt.Sprintf("%s is in use by %s (device mapper: LVM, RAID or encryption)", d.Name, strings.Join(d.Holders, ", ")))
	}
	for _, p := range d.Partitions {
		if len(p.Holders) > 0 {
			other = append(other, fmt.Sprintf("%s is in use by %s (device mapper: LVM, RAID or encryption)", p.Name, strings.Join(p.Holders, ", ")))
		}
	}
	if d.ReadOnly {
		other = append(other, fmt.Sprintf("%s is write-protected", d.Path))
	}
	switch {
	case d.Size == 0:
		other = append(other, fmt.Sprintf("%s has no medium (size 0)", d.Path))
	case d.Size < imageSize:
		other = append(other, fmt.Sprintf("the image is %s (%d bytes) but %s holds only %s (%d bytes)",
			bar.Size(imageSize), imageSize, d.Path, bar.Size(d.Size), d.Size))
	}
	reasons := append(append(append(root, system...), mounted...), other...)
	if len(reasons) == 0 {
		return nil
	}
	return &RefusedError{Device: d.Path, Reasons: unique(reasons)}
}

// RefusedError lists why a device was not written.
type RefusedError struct {
	Device  string
	Reasons []string
}

func (e *RefusedError) Error() string {
	if len(e.Reasons) == 1 {
		return "refusing to write " + e.Device + ": " + e.Reasons[0]
	}
	return "refusing to write " + e.Device + ":\n  " + strings.Join(e.Reasons, "\n  ")
}

// IsRefused reports whether err is a refusal rather than an I/O failure.
func IsRefused(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}

func unique(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func readString(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// readSectors reads a sysfs size file, which counts 512-byte sectors
// whatever the device's own sector size.
func readSectors(p string) int64 {
	n, err := strconv.ParseInt(readString(p), 10, 64)
	if err != nil {
		return 0
	}
	return n * 512
}

func listDir(p string) []string {
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// Size formats a byte count as this package's messages do (14.9 GiB).
func Size(n int64) string { return bar.Size(n) }
