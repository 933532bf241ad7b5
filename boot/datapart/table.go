package datapart

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"github.com/diskfs/go-diskfs/partition/gpt"
	"golang.org/x/sys/unix"
)

// writeTable writes t to the open disk f of diskBytes and clears the old
// backup header when the plan moved it, so that nothing scanning the disk
// later mistakes the stale copy for a table.
//
// A partition being created gets its first MiB zeroed (and synced) before
// the table names it: the space was unallocated, and a power cut between
// this table write and mke2fs must leave a partition the next boot sees as
// blank, which it formats, not as stale bytes it refuses to touch.
func writeTable(f *os.File, t *gpt.Table, diskBytes int64, pl plan) error {
	lss := int64(t.LogicalSectorSize)
	if pl.action == create {
		n := min(int64(blankBytes), pl.newBytes)
		if _, err := f.WriteAt(make([]byte, n), int64(pl.part.Start)*lss); err != nil {
			return fmt.Errorf("clear the new partition's first MiB: %w", err)
		}
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if err := t.Write(f, diskBytes); err != nil {
		return err
	}
	backup := t.TotalSize()/uint64(lss) - 1
	if t.ProtectiveMBR && backup > 0xFFFFFFFF {
		// The MBR's 32-bit sector count is truncated by go-diskfs; the
		// UEFI spec wants it saturated for disks larger than 2 TiB.
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], 0xFFFFFFFF)
		if _, err := f.WriteAt(b[:], 446+12); err != nil {
			return fmt.Errorf("protective MBR: %w", err)
		}
	}
	if pl.relocate && pl.oldBackup != backup && !inAnyPartition(t, pl.oldBackup, pl.part) {
		zero := make([]byte, lss)
		if _, err := f.WriteAt(zero, int64(pl.oldBackup)*lss); err != nil {
			return fmt.Errorf("clear old backup GPT header: %w", err)
		}
	}
	return f.Sync()
}

// inAnyPartition reports whether lba lies in a partition other than
// except. The old backup header may lie inside the grown data partition:
// that space held no filesystem data yet, so it is cleared too.
func inAnyPartition(t *gpt.Table, lba uint64, except *gpt.Partition) bool {
	for _, p := range t.Partitions {
		if p != except && p.Type != gpt.Unused && lba >= p.Start && lba <= p.End {
			return true
		}
	}
	return false
}

// tellKernel makes the kernel's partition of d match the table: BLKPG
// changes just the one partition and works while other partitions of the
// disk are open; BLKRRPART rereads the whole table but fails if any
// partition is open.
func tellKernel(f *os.File, d *disk, pl plan) error {
	lss := int64(d.lss)
	start := int64(pl.part.Start) * lss
	length := pl.newBytes
	op := int32(unix.BLKPG_RESIZE_PARTITION)
	if cur, ok := d.partition(pl.part.Index); !ok {
		op = unix.BLKPG_ADD_PARTITION
	} else if cur.start != start {
		return fmt.Errorf("kernel has partition %d at byte %d, table says %d", pl.part.Index, cur.start, start)
	} else if cur.size == length {
		return nil
	}
	bpErr := blkpg(f, op, pl.part.Index, start, length)
	if bpErr == nil {
		return nil
	}
	// A kernel without GPT support (CONFIG_EFI_PARTITION) would drop
	// every partition on BLKRRPART; the box's kernel has it.
	if err := unix.IoctlSetInt(int(f.Fd()), unix.BLKRRPART, 0); err != nil {
		return fmt.Errorf("BLKPG: %v; BLKRRPART: %v (the new table takes effect at the next boot)", bpErr, err)
	}
	return nil
}

// addToKernel adds the plan's partition to the kernel's view of d.
func addToKernel(d *disk, pl plan) error {
	f, err := os.Open(d.dev)
	if err != nil {
		return err
	}
	defer f.Close()
	return tellKernel(f, d, pl)
}

// blkpg adds (BLKPG_ADD_PARTITION) or resizes (BLKPG_RESIZE_PARTITION)
// partition pno of the disk open as f; start and length are in bytes.
func blkpg(f *os.File, op int32, pno int, start, length int64) error {
	bp := unix.BlkpgPartition{Start: start, Length: length, Pno: int32(pno)}
	arg := unix.BlkpgIoctlArg{Op: op, Datalen: int32(unsafe.Sizeof(bp)), Data: (*byte)(unsafe.Pointer(&bp))}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKPG, uintptr(unsafe.Pointer(&arg)))
	if errno != 0 {
		return errno
	}
	return nil
}

// waitPartition waits until the kernel shows partition n of d with size
// bytes and its device node exists, and returns the node. devtmpfs makes
// the node when the kernel adds the partition, but not synchronously with
// the ioctl.
func waitPartition(ctx context.Context, d *disk, devDir string, n int, size int64) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if p, ok := d.partition(n); ok && p.size == size {
			node := devPath(devDir, p.name)
			if err := checkNode(node, p.sys); err == nil {
				return node, nil
			} else if ctx.Err() != nil {
				return "", err
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("partition %d of %s with %s: %w", n, d.dev, human(size), errNoNode)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// checkNode verifies node is the block device sysfs describes at sys, so
// that a stale node left from another device is never formatted.
func checkNode(node, sys string) error {
	b, err := os.ReadFile(filepath.Join(sys, "dev"))
	if err != nil {
		return err
	}
	var maj, min uint32
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d:%d", &maj, &min); err != nil {
		return fmt.Errorf("%s/dev: %v", sys, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(node, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK || unix.Major(st.Rdev) != maj || unix.Minor(st.Rdev) != min {
		return fmt.Errorf("%s is not block device %d:%d", node, maj, min)
	}
	return nil
}
