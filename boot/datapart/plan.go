package datapart

import (
	"errors"
	"fmt"

	"github.com/diskfs/go-diskfs/partition/gpt"
)

const (
	// DataName is the GPT partition name and the ext4 label of the data
	// partition.
	DataName = "nucbox-data"
	// ESPName is the GPT partition name of the image's EFI system
	// partition; a disk holding it is the boot disk.
	ESPName = "nucbox-esp"
	// MinCreateSize is the least unallocated space in which a missing data
	// partition is created; less is not worth persisting VM disks to.
	MinCreateSize = 64 << 20
	// align is where partitions start and end: flash media erase in blocks
	// of up to a few MiB, and 1 MiB is what every partitioning tool uses.
	align = 1 << 20
)

type action int

const (
	keep action = iota
	grow
	create
)

func (a action) String() string {
	return [...]string{"keep", "grow", "create"}[a]
}

// plan is what planDisk decided for one disk.
type plan struct {
	action    action
	relocate  bool           // the backup GPT moves to the end of the disk
	repair    bool           // the primary GPT was damaged and is rewritten
	oldBackup uint64         // LBA of the backup header before relocation
	part      *gpt.Partition // the data partition as it will be
	oldBytes  int64          // the data partition's size before; 0 when created
	newBytes  int64
	warning   string // why a possible change was not planned
}

func (p plan) changed() bool { return p.action != keep || p.relocate || p.repair }

var (
	errNotOurs = errors.New("no " + DataName + " or " + ESPName + " partition")
	errNoSpace = errors.New("not enough unallocated space")
	errTwoData = errors.New("more than one partition is named " + DataName)
)

// planDisk decides what to change on a disk of diskBytes whose GPT is t,
// and changes t accordingly; the caller writes t if the plan changed
// anything. It is pure: tests run it on tables built in memory.
func planDisk(t *gpt.Table, diskBytes int64) (plan, error) {
	lss := int64(t.LogicalSectorSize)
	if lss <= 0 || align%lss != 0 {
		return plan{}, fmt.Errorf("unsupported logical sector size %d", lss)
	}
	alignS := uint64(align / lss)
	diskSectors := uint64(diskBytes / lss)
	backup := t.TotalSize()/uint64(lss) - 1

	var data []*gpt.Partition
	hasESP := false
	for _, p := range t.Partitions {
		if p.Type == gpt.Unused {
			continue
		}
		switch p.Name {
		case DataName:
			data = append(data, p)
		case ESPName:
			hasESP = true
		}
	}
	if len(data) > 1 {
		return plan{}, fmt.Errorf("%w (%d)", errTwoData, len(data))
	}
	if len(data) == 0 && !hasESP {
		return plan{}, errNotOurs
	}

	// go-diskfs fell back to the backup header: write the primary again
	// so that firmware which does not fall back still finds the table.
	pl := plan{repair: t.RecoveredFromBackup}
	switch {
	case diskSectors == 0 || backup > diskSectors-1:
		// The table describes a bigger disk than this one (an image
		// written to a smaller stick, or a truncated file). Changing it
		// would only hide the problem; use what is there.
		pl.repair = false
		pl.warning = fmt.Sprintf("GPT ends at %s but the disk has %s; not changing the table",
			human(int64(backup+1)*lss), human(diskBytes))
		if len(data) == 0 {
			return pl, fmt.Errorf("%w: %s", errNoSpace, pl.warning)
		}
		pl.part = data[0]
		pl.oldBytes = partBytes(data[0], lss)
		pl.newBytes = pl.oldBytes
		return pl, nil
	case backup < diskSectors-1:
		pl.relocate = true
		pl.oldBackup = backup
		t.Resize(uint64(diskSectors) * uint64(lss))
	}
	// The last sector of the last whole aligned MiB the table may use.
	lastUsable := t.LastDataSector()
	var alignedEnd uint64 // 0 leaves nothing to grow into or create in
	if lastUsable+1 >= alignS {
		alignedEnd = (lastUsable+1)/alignS*alignS - 1
	}

	if len(data) == 1 {
		d := data[0]
		pl.part = d
		pl.oldBytes = partBytes(d, lss)
		pl.newBytes = pl.oldBytes
		for _, p := range t.Partitions {
			if p != d && p.Type != gpt.Unused && p.Start > d.Start {
				if alignedEnd > d.End {
					pl.warning = fmt.Sprintf("partition %d (%q) follows %s; not growing it", p.Index, p.Name, DataName)
				}
				return pl, nil
			}
		}
		if alignedEnd > d.End {
			d.End = alignedEnd
			d.Size = 0 // recomputed from Start and End when written
			pl.action = grow
			pl.newBytes = partBytes(d, lss)
		}
		return pl, nil
	}

	var maxEnd uint64
	used := map[int]bool{}
	for _, p := range t.Partitions {
		if p.Type == gpt.Unused {
			continue
		}
		used[p.Index] = true
		maxEnd = max(maxEnd, p.End)
	}
	start := (maxEnd + 1 + alignS - 1) / alignS * alignS
	if start > alignedEnd || int64(alignedEnd-start+1)*lss < MinCreateSize {
		free := int64(0)
		if lastUsable > maxEnd {
			free = int64(lastUsable-maxEnd) * lss
		}
		return plan{}, fmt.Errorf("%w: %s free after the last partition, need %s",
			errNoSpace, human(free), human(MinCreateSize))
	}
	index := 1
	for used[index] {
		index++
	}
	d := &gpt.Partition{
		Index: index,
		Start: start,
		End:   alignedEnd,
		Type:  gpt.LinuxFilesystem,
		Name:  DataName,
	}
	t.Partitions = append(t.Partitions, d)
	pl.action = create
	pl.part = d
	pl.newBytes = partBytes(d, lss)
	return pl, nil
}

func partBytes(p *gpt.Partition, lss int64) int64 {
	return int64(p.End-p.Start+1) * lss
}
