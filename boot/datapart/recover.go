package datapart

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// ErrDamaged means the data partition holds something that is not a
// usable ext4 filesystem and Setup left it exactly as it found it: not
// mounted, not formatted. The box runs on without persistence until an
// operator decides what the partition's contents are worth.
var ErrDamaged = errors.New("data partition damaged")

// DamagedError says which partition was refused, why, and what an
// operator can do about it. It wraps ErrDamaged.
type DamagedError struct {
	Device string // the partition's node
	Reason string // what Setup found
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("datapart: %s: %s; not mounted and NOT formatted, its contents are untouched. %s",
		e.Device, e.Reason, e.Help())
}

// Help is what an operator can do about a damaged partition.
func (e *DamagedError) Help() string {
	return fmt.Sprintf("To recover the files, run e2fsck -b BLOCK %s by hand (mke2fs -n %s lists where backups would be) "+
		"or copy the partition to another machine; to start over with an empty data partition, "+
		"zero its first MiB (dd if=/dev/zero of=%s bs=1M count=1) and reboot",
		e.Device, e.Device, e.Device)
}

func (e *DamagedError) Unwrap() error { return ErrDamaged }

// Note says what Setup did to a partition it mounted, besides mounting
// it, for the box's status: empty when there is nothing to say.
func Note(res *Result) string {
	if res == nil {
		return ""
	}
	var parts []string
	switch {
	case res.Created && res.Formatted:
		parts = append(parts, "created and formatted at this boot")
	case res.Formatted:
		parts = append(parts, "formatted at this boot (its first MiB was blank)")
	case res.Grown:
		parts = append(parts, "grown to fill its disk")
	}
	if res.Recovered != 0 {
		parts = append(parts, fmt.Sprintf("primary superblock damaged, repaired from backup at block %d", res.Recovered))
	}
	if strings.HasPrefix(res.Check, "errors corrected") {
		parts = append(parts, "e2fsck: "+res.Check)
	}
	return strings.Join(parts, "; ")
}

// Reason says why Setup did not mount a data partition it found, for the
// box's status; err is what Setup returned.
func Reason(err error) string {
	var de *DamagedError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &de):
		return de.Reason + ": not mounted, not formatted"
	}
	return strings.TrimPrefix(err.Error(), "datapart: ") + ": not mounted, not formatted"
}

// Status is the one line the box shows for its data partition, from what
// Setup returned.
func Status(res *Result, err error) string {
	var de *DamagedError
	switch {
	case errors.Is(err, ErrNoDisk):
		return "none; state lasts until power off"
	case errors.As(err, &de):
		return fmt.Sprintf("%s NOT MOUNTED: %s", de.Device, Reason(err))
	case err != nil && res != nil && res.Device != "":
		return fmt.Sprintf("%s NOT MOUNTED: %s", res.Device, Reason(err))
	case err != nil:
		return "NOT MOUNTED: " + Reason(err)
	case res == nil:
		return "not set up"
	}
	s := fmt.Sprintf("%s mounted (e2fsck: %s)", res.Device, res.Check)
	if n := Note(res); n != "" {
		s += "; " + n
	}
	return s
}

// blankBytes is how much of a partition must read as zeros before Setup
// formats a partition it did not create: mke2fs, every partitioning tool
// and every common filesystem write their headers within it, so zeros
// there mean nothing was ever stored, or someone wiped it on purpose.
const blankBytes = 1 << 20

// isBlank reports whether the first blankBytes of dev (or all of it, if
// smaller) are zero.
func isBlank(dev string) (bool, error) {
	f, err := os.Open(dev)
	if err != nil {
		return false, err
	}
	defer f.Close()
	b := make([]byte, blankBytes)
	n, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, err
	}
	for _, c := range b[:n] {
		if c != 0 {
			return false, nil
		}
	}
	return true, nil
}

// backup is where a backup superblock sits: its block number in blocks of
// blockSize, the form e2fsck -b and -B take.
type backup struct {
	block     int64
	blockSize int64
}

// backupGroups are the block groups that carry a backup superblock with
// sparse_super (1 and the powers of 3, 5 and 7; group 0 holds the
// primary) up to maxGroup, in ascending order. Without sparse_super every
// group has one, these included.
func backupGroups(maxGroup int64) []int64 {
	gs := []int64{1}
	for _, base := range []int64{3, 5, 7} {
		for g := base; g <= maxGroup; g *= base {
			gs = append(gs, g)
		}
	}
	slices.Sort(gs)
	return gs
}

// maxBackups bounds how many backups Setup offers e2fsck: if the first
// few are all bad, the damage is not a torn superblock write.
const maxBackups = 8

// findBackups reads the standard backup superblock locations for every
// block size ext4 can have (the groups of 8×blocksize blocks mke2fs lays
// out by default, as e2fsck's manual describes) and returns those holding
// a superblock that agrees with where it was found, best first. It only
// reads; a partition of partBytes that holds none gets nil.
func findBackups(dev string, partBytes int64) ([]backup, error) {
	f, err := os.Open(dev)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var found []backup
	buf := make([]byte, 1024)
	for logBS := uint32(0); logBS <= 6; logBS++ {
		bs := int64(1024) << logBS
		perGroup := 8 * bs
		first := int64(0)
		if bs == 1024 {
			first = 1
		}
		for _, g := range backupGroups(partBytes / (perGroup * bs)) {
			block := g*perGroup + first
			off := block * bs
			if off+1024 > partBytes {
				break
			}
			if _, err := f.ReadAt(buf, off); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, err
			}
			if !backupAt(buf, logBS, g, uint32(perGroup), uint32(first), partBytes) {
				continue
			}
			found = append(found, backup{block: block, blockSize: bs})
			if len(found) == maxBackups {
				return found, nil
			}
		}
	}
	return found, nil
}

// backupAt reports whether b is a backup superblock that belongs where it
// was read: the block size, group number, blocks per group and first data
// block it records must all match the location, and the filesystem must
// fit the partition. A stale copy from an older filesystem of a different
// geometry, or data that happens to hold the magic, does not match.
func backupAt(b []byte, logBS uint32, group int64, perGroup, first uint32, partBytes int64) bool {
	le := binary.LittleEndian
	sb := parseSuperblock(b)
	if sb == nil || sb.size <= 0 || sb.size > partBytes {
		return false
	}
	return le.Uint32(b[0x18:]) == logBS &&
		le.Uint32(b[0x20:]) == perGroup &&
		le.Uint32(b[0x14:]) == first &&
		int64(le.Uint16(b[0x5A:])) == group
}

// recoverFS runs e2fsck from each backup superblock in turn until one
// repairs the filesystem, which e2fsck then writes back to the primary
// superblock. It returns the backup used and e2fsck's verdict. A backup
// e2fsck cannot open (exit 8) moves on to the next; errors e2fsck found
// and could not fix in preen mode (exit 4) stop there, since trying more
// backups would write more to a filesystem that needs a person.
func recoverFS(ctx context.Context, o *Options, dev string, partBytes int64) (backup, string, error) {
	backups, err := findBackups(dev, partBytes)
	if err != nil {
		return backup{}, "", err
	}
	if len(backups) == 0 {
		return backup{}, "", &DamagedError{Device: dev, Reason: "no usable superblock: no ext4 superblock and no backup superblock, yet its first MiB is not blank"}
	}
	var last string
	for _, b := range backups {
		o.Logf("data partition: %s: trying backup superblock %d (block size %d)", dev, b.block, b.blockSize)
		code, out, err := runFsck(ctx, o, "-p", "-b", strconv.FormatInt(b.block, 10), "-B", strconv.FormatInt(b.blockSize, 10), dev)
		if err != nil {
			return backup{}, "", err
		}
		logLines(o, out)
		switch {
		case code < 4:
			sb, err := readSuperblock(dev)
			if err != nil {
				return backup{}, "", err
			}
			if sb == nil {
				last = fmt.Sprintf("e2fsck from backup %d exited %d but left no primary superblock", b.block, code)
				continue
			}
			return b, fsckVerdict(code), nil
		case code&4 != 0:
			return backup{}, "", &DamagedError{Device: dev, Reason: fmt.Sprintf(
				"primary superblock damaged; e2fsck -p from backup superblock %d left errors uncorrected", b.block)}
		default:
			last = fmt.Sprintf("e2fsck from backup %d: exit %d: %s", b.block, code, firstLine(out))
		}
	}
	return backup{}, "", &DamagedError{Device: dev, Reason: fmt.Sprintf(
		"no usable superblock: the primary is damaged and no backup superblock repaired it (%d tried; last: %s)", len(backups), last)}
}

func firstLine(b []byte) string {
	s := trim(b)
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
