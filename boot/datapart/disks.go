package datapart

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/moby/sys/mountinfo"
)

// disk is a whole block device as sysfs and its GPT describe it.
type disk struct {
	name     string     // sysfs name, "sda", "nvme0n1", "loop3"
	sys      string     // its sysfs directory
	dev      string     // its device node
	size     int64      // bytes
	lss, pss int        // logical and physical sector size
	table    *gpt.Table // nil when the disk has no readable GPT
}

// listDisks returns the whole disks under sysBlock with a non-zero size,
// sorted by name, with their GPT read when they have one. Partitions are
// skipped: sysfs lists them next to their disks.
func listDisks(sysBlock, devDir string) ([]*disk, error) {
	ents, err := os.ReadDir(sysBlock)
	if err != nil {
		return nil, err
	}
	var out []*disk
	for _, e := range ents {
		sys := filepath.Join(sysBlock, e.Name())
		if _, err := os.Stat(filepath.Join(sys, "partition")); err == nil {
			continue
		}
		sectors, err := readInt(filepath.Join(sys, "size"))
		if err != nil || sectors == 0 {
			continue
		}
		d := &disk{
			name: e.Name(),
			sys:  sys,
			dev:  devPath(devDir, e.Name()),
			size: sectors * 512, // sysfs counts 512-byte units whatever the sector size
			lss:  512,
			pss:  512,
		}
		if v, err := readInt(filepath.Join(sys, "queue", "logical_block_size")); err == nil && v > 0 {
			d.lss = int(v)
		}
		if v, err := readInt(filepath.Join(sys, "queue", "physical_block_size")); err == nil && v > 0 {
			d.pss = int(v)
		}
		d.table, _ = readGPT(d.dev, d.lss, d.pss)
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// devPath maps a sysfs name to its node: the kernel writes '/' in a
// device name as '!' in sysfs (cciss!c0d0 is /dev/cciss/c0d0).
func devPath(devDir, name string) string {
	return filepath.Join(devDir, strings.ReplaceAll(name, "!", "/"))
}

func readGPT(dev string, lss, pss int) (*gpt.Table, error) {
	f, err := os.Open(dev)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return gpt.Read(f, lss, pss)
}

// sysPart is a partition as sysfs lists it under its disk.
type sysPart struct {
	name  string
	sys   string
	num   int
	start int64 // bytes
	size  int64 // bytes
}

// partitions lists the partitions the kernel currently knows on d.
func (d *disk) partitions() []sysPart {
	ents, _ := os.ReadDir(d.sys)
	var out []sysPart
	for _, e := range ents {
		sys := filepath.Join(d.sys, e.Name())
		n, err := readInt(filepath.Join(sys, "partition"))
		if err != nil {
			continue
		}
		start, _ := readInt(filepath.Join(sys, "start"))
		size, _ := readInt(filepath.Join(sys, "size"))
		out = append(out, sysPart{name: e.Name(), sys: sys, num: int(n), start: start * 512, size: size * 512})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].num < out[j].num })
	return out
}

// partition returns the kernel's view of partition n of d.
func (d *disk) partition(n int) (sysPart, bool) {
	for _, p := range d.partitions() {
		if p.num == n {
			return p, true
		}
	}
	return sysPart{}, false
}

func (d *disk) has(name string) bool {
	if d.table == nil {
		return false
	}
	for _, p := range d.table.Partitions {
		if p.Type != gpt.Unused && p.Name == name {
			return true
		}
	}
	return false
}

func (d *disk) find(name string) *gpt.Partition {
	if d.table == nil {
		return nil
	}
	for _, p := range d.table.Partitions {
		if p.Type != gpt.Unused && p.Name == name {
			return p
		}
	}
	return nil
}

// busy names the first partition of d (or d itself) that is mounted, or
// held by device mapper or md, as "sda1 mounted at /boot". The GPT of a
// busy disk is not rewritten: the kernel refuses to change a partition
// under a mounted filesystem, and a half-applied table is worse than none.
func (d *disk) busy(mounts map[string]string) string {
	check := []struct{ name, sys string }{{d.name, d.sys}}
	for _, p := range d.partitions() {
		check = append(check, struct{ name, sys string }{p.name, p.sys})
	}
	for _, c := range check {
		if dev, err := os.ReadFile(filepath.Join(c.sys, "dev")); err == nil {
			if mp, ok := mounts[strings.TrimSpace(string(dev))]; ok {
				return c.name + " mounted at " + mp
			}
		}
		if h, _ := os.ReadDir(filepath.Join(c.sys, "holders")); len(h) > 0 {
			return c.name + " held by " + h[0].Name()
		}
	}
	return ""
}

// mountsByDev maps "major:minor" to a mount point, the first one when a
// device is mounted more than once.
func mountsByDev() (map[string]string, error) {
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, mt := range mounts {
		dev := fmt.Sprintf("%d:%d", mt.Major, mt.Minor) // as sysfs writes it
		if _, ok := m[dev]; !ok {
			m[dev] = mt.Mountpoint
		}
	}
	return m, nil
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

var errNoNode = errors.New("device node did not appear")
