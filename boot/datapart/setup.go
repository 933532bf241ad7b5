package datapart

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNoDisk means there is no data partition and no boot disk with room
// for one: the caller continues without persistence.
var ErrNoDisk = errors.New("no data partition and no boot disk with room for one")

// Options configure Setup. Only MountPoint is required; the rest default
// to the running system's paths.
type Options struct {
	MountPoint string                           // e.g. /var/lib/nucbox
	Logf       func(format string, args ...any) // progress lines; nil discards them
	SysBlock   string                           // default /sys/class/block
	DevDir     string                           // default /dev
	Mke2fs     string                           // default /sbin/mke2fs
	E2fsck     string                           // default /sbin/e2fsck
	Resize2fs  string                           // default /sbin/resize2fs
	// BootPartUUID is the GPT GUID of the partition the firmware booted
	// from, as the boot loader reported it; with two nucbox sticks
	// plugged in it tells which one is the boot disk. Empty: not known.
	BootPartUUID string
}

// Result says what Setup found and did.
type Result struct {
	Device    string // the partition's node, /dev/sda2
	Disk      string // its disk's node, /dev/sda
	Created   bool   // the partition was added to the GPT
	Formatted bool   // mke2fs ran
	Grown     bool   // the partition was grown (and its filesystem with it)
	Size      int64  // the partition's size in bytes
	Check     string // e2fsck's verdict: clean, errors corrected, ...; "new" after formatting, "damaged" when refused
	Recovered int64  // the backup superblock (in filesystem blocks) the primary was repaired from; 0 if none
}

func (o *Options) defaults() {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.SysBlock == "" {
		o.SysBlock = "/sys/class/block"
	}
	if o.DevDir == "" {
		o.DevDir = "/dev"
	}
	if o.Mke2fs == "" {
		o.Mke2fs = "/sbin/mke2fs"
	}
	if o.E2fsck == "" {
		o.E2fsck = "/sbin/e2fsck"
	}
	if o.Resize2fs == "" {
		o.Resize2fs = "/sbin/resize2fs"
	}
}

// Setup finds or creates the data partition, grows it to fill its disk,
// makes or checks its ext4 filesystem and mounts it at o.MountPoint. It
// returns ErrNoDisk (wrapped, with the reason) when there is nothing to
// mount; any other error means a data partition exists but could not be
// used, and is worth showing to the operator. When the failure came after
// the partition was found, the Result is returned with the error.
func Setup(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	if o.MountPoint == "" {
		return nil, errors.New("datapart: no mount point")
	}
	disks, err := listDisks(o.SysBlock, o.DevDir)
	if err != nil {
		return nil, fmt.Errorf("datapart: %w", err)
	}
	res := &Result{}
	d, pl, err := choose(disks, &o)
	if err != nil {
		return nil, err
	}
	var dev string
	var size int64
	if d == nil {
		// Found by ext4 label: no table to change.
		dev, size = pl.labelDev, pl.labelSize
		res.Disk = pl.labelDisk
	} else {
		res.Disk = d.dev
		if dev, err = applyPlan(ctx, &o, d, pl.plan, res); err != nil {
			return nil, err
		}
		size = pl.plan.newBytes
		if !res.Grown && !res.Created {
			size = pl.plan.oldBytes
		}
	}
	res.Device, res.Size = dev, size
	if err := mountFS(ctx, &o, res); err != nil {
		return res, err
	}
	return res, nil
}

// choice is the disk Setup works on, or a partition found by label.
type choice struct {
	plan      plan
	labelDev  string
	labelDisk string
	labelSize int64
}

// choose picks the data partition: by GPT name, else by ext4 label, else
// a new one on the first boot disk with room. Where several disks qualify
// (two nucbox sticks plugged in) the disk the firmware booted from wins,
// then disks with a nucbox ESP, then the first by name.
func choose(disks []*disk, o *Options) (*disk, choice, error) {
	disks = bootFirst(disks, o.BootPartUUID)
	var named []*disk
	for _, d := range disks {
		if d.has(DataName) {
			named = append(named, d)
		}
	}
	if len(named) > 0 {
		pick := named[0]
		for _, d := range named {
			if d != pick {
				o.Logf("data partition: ignoring the %s partition on %s, using the one on %s", DataName, d.dev, pick.dev)
			}
		}
		pl, err := planDisk(pick.table, pick.size)
		if err != nil {
			return nil, choice{}, fmt.Errorf("datapart: %s: %w", pick.dev, err)
		}
		return pick, choice{plan: pl}, nil
	}

	for _, d := range disks {
		for _, p := range d.partitions() {
			node := devPath(o.DevDir, p.name)
			sb, err := readSuperblock(node)
			if err != nil || sb == nil || sb.label != DataName {
				continue
			}
			o.Logf("data partition: found %s by its ext4 label (no GPT partition is named %s)", node, DataName)
			return nil, choice{labelDev: node, labelDisk: d.dev, labelSize: p.size}, nil
		}
	}

	var why []string
	for _, d := range disks {
		if !d.has(ESPName) {
			continue
		}
		pl, err := planDisk(d.table, d.size)
		if err != nil {
			why = append(why, fmt.Sprintf("%s: %v", d.dev, err))
			continue
		}
		return d, choice{plan: pl}, nil
	}
	if len(why) == 0 {
		why = append(why, fmt.Sprintf("no disk has a partition named %s or %s", DataName, ESPName))
	}
	return nil, choice{}, fmt.Errorf("datapart: %w (%s)", ErrNoDisk, strings.Join(why, "; "))
}

// applyPlan rewrites d's GPT if the plan changes it, and returns the data
// partition's device node once the kernel shows it at its new size.
func applyPlan(ctx context.Context, o *Options, d *disk, pl plan, res *Result) (string, error) {
	idx := pl.part.Index
	if pl.warning != "" {
		o.Logf("data partition: %s: %s", d.dev, pl.warning)
	}
	if pl.changed() {
		mounts, err := mountsByDev()
		if err != nil {
			return "", fmt.Errorf("datapart: %w", err)
		}
		if why := d.busy(mounts); why != "" {
			if pl.action == create {
				return "", fmt.Errorf("datapart: %w (%s has room for %s but %s)", ErrNoDisk, d.dev, DataName, why)
			}
			o.Logf("data partition: not changing the GPT of %s: %s", d.dev, why)
			pl.action, pl.relocate, pl.repair = keep, false, false
			pl.newBytes = pl.oldBytes
		}
	}
	if pl.changed() {
		// O_EXCL fails if anything mounted a partition since the check.
		f, err := os.OpenFile(d.dev, os.O_RDWR|unix.O_EXCL, 0)
		if err != nil {
			return "", fmt.Errorf("datapart: %w", err)
		}
		defer f.Close()
		if err := writeTable(f, d.table, d.size, pl); err != nil {
			return "", fmt.Errorf("datapart: write GPT of %s: %w", d.dev, err)
		}
		if pl.repair {
			o.Logf("data partition: %s: damaged primary GPT rewritten from the backup", d.dev)
		}
		if pl.relocate {
			o.Logf("data partition: %s: backup GPT moved to the end of the disk (%s)", d.dev, human(d.size))
		}
		if pl.action != keep {
			if err := tellKernel(f, d, pl); err != nil {
				return "", fmt.Errorf("datapart: %s: %w", d.dev, err)
			}
		}
		switch pl.action {
		case create:
			res.Created = true
		case grow:
			res.Grown = true
		}
	}
	if _, ok := d.partition(idx); !ok && !pl.changed() {
		// The table did not change but the kernel does not show the
		// partition: it has no GPT parser, or an earlier boot wrote the
		// table and lost power before telling the kernel.
		if err := addToKernel(d, pl); err != nil {
			return "", fmt.Errorf("datapart: %s: %w", d.dev, err)
		}
		o.Logf("data partition: %s: partition %d was not known to the kernel; added it", d.dev, idx)
	}
	node, err := waitPartition(ctx, d, o.DevDir, idx, pl.newBytes)
	if err != nil {
		return "", fmt.Errorf("datapart: %w", err)
	}
	switch pl.action {
	case create:
		o.Logf("data partition: %s created on %s (%s)", node, d.dev, human(pl.newBytes))
	case grow:
		o.Logf("data partition: %s grown %s → %s", node, human(pl.oldBytes), human(pl.newBytes))
	default:
		o.Logf("data partition: %s on %s (%s)", node, d.dev, human(pl.newBytes))
	}
	return node, nil
}

// mountFS makes or checks the filesystem on res.Device, grows it to its
// partition when it is smaller, and mounts it.
func mountFS(ctx context.Context, o *Options, res *Result) error {
	dev := res.Device
	if mp := mountedAt(dev); mp != "" {
		if mp == o.MountPoint {
			o.Logf("data partition: %s already mounted at %s", dev, mp)
			res.Check = "mounted"
			return nil
		}
		return fmt.Errorf("datapart: %s is already mounted at %s", dev, mp)
	}
	sb, err := readSuperblock(dev)
	if err != nil {
		return fmt.Errorf("datapart: %w", err)
	}
	format := false
	if sb == nil {
		// Only a partition this boot made, or one whose first MiB is
		// zeros, is formatted: anything else may be a filesystem whose
		// primary superblock was torn or flipped, and a format would
		// wipe every VM disk on it.
		format = res.Created
		if !format {
			if format, err = isBlank(dev); err != nil {
				return fmt.Errorf("datapart: %w", err)
			}
		}
	}
	if format {
		if err := mkfs(ctx, o, dev); err != nil {
			return fmt.Errorf("datapart: %w", err)
		}
		res.Formatted, res.Check = true, "new"
		o.Logf("data partition: %s formatted ext4 (%s)", dev, human(res.Size))
	} else {
		if sb == nil {
			o.Logf("data partition: %s: no ext4 superblock, but the partition is not blank: looking for a backup superblock", dev)
			if sb, err = recoverPrimary(ctx, o, res); err != nil {
				return err
			}
		}
		// A filesystem smaller than its partition was just grown, or a
		// power cut came between growing the partition and resizing.
		grow := res.Size-sb.size >= align
		res.Check, err = fsck(ctx, o, dev, grow)
		var fe *fsckError
		if errors.As(err, &fe) && fe.code&8 != 0 && res.Recovered == 0 {
			// e2fsck could not open the filesystem from its primary
			// superblock, though the magic is there: a bit flip or a
			// torn write inside it. The backups were written with it.
			o.Logf("data partition: %s: %v", dev, err)
			if sb, err = recoverPrimary(ctx, o, res); err != nil {
				return err
			}
			grow = res.Size-sb.size >= align
			res.Check, err = fsck(ctx, o, dev, grow)
		}
		o.Logf("data partition: %s e2fsck: %s", dev, res.Check)
		if err != nil {
			return fmt.Errorf("datapart: %w", err)
		}
		if grow {
			if err := resize(ctx, o, dev); err != nil {
				// Still usable at its old size; the next boot retries.
				o.Logf("data partition: %v; the filesystem stays at %s", err, human(sb.size))
			} else {
				o.Logf("data partition: %s filesystem grown %s → %s", dev, human(sb.size), human(res.Size))
				res.Grown = true
			}
		}
	}
	if err := os.MkdirAll(o.MountPoint, 0o755); err != nil {
		return fmt.Errorf("datapart: %w", err)
	}
	if err := unix.Mount(dev, o.MountPoint, "ext4", unix.MS_NOATIME, ""); err != nil {
		hint := ""
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) {
			// PID 1 has no modprobe for the kernel to call, so the
			// modules ext4 asks for on demand must be loaded already.
			hint = " (are ext4, jbd2, mbcache, crc16 and crc32c loaded? the kernel log names what is missing)"
		}
		return fmt.Errorf("datapart: mount %s at %s: %w%s", dev, o.MountPoint, err, hint)
	}
	o.Logf("data partition: %s mounted at %s", dev, o.MountPoint)
	return nil
}

// recoverPrimary repairs res.Device's primary superblock from a backup and
// returns the superblock it then holds. Without a backup that works it
// returns a *DamagedError, and has written nothing unless e2fsck accepted
// a backup and then found errors it would not fix in preen mode.
func recoverPrimary(ctx context.Context, o *Options, res *Result) (*superblock, error) {
	dev := res.Device
	b, verdict, err := recoverFS(ctx, o, dev, res.Size)
	if err != nil {
		var de *DamagedError
		if errors.As(err, &de) {
			res.Check = "damaged"
			return nil, err
		}
		return nil, fmt.Errorf("datapart: %w", err)
	}
	sb, err := readSuperblock(dev)
	if err != nil {
		return nil, fmt.Errorf("datapart: %w", err)
	}
	res.Recovered = b.block
	o.Logf("data partition: %s repaired from backup superblock %d (block size %d), e2fsck: %s", dev, b.block, b.blockSize, verdict)
	return sb, nil
}

// mountedAt returns where dev is mounted, if anywhere.
func mountedAt(dev string) string {
	var st unix.Stat_t
	if unix.Stat(dev, &st) != nil {
		return ""
	}
	mounts, err := mountsByDev()
	if err != nil {
		return ""
	}
	return mounts[fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))]
}
