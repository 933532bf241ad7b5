package datapart

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/diskfs/go-diskfs/partition/gpt"
)

const mib = 1 << 20

// part is a partition of a test image, in MiB unless sectors are given.
type part struct {
	name         string
	typ          gpt.Type
	index        int
	startMiB     int64
	endMiB       int64 // exclusive
	startS, endS uint64
	guid         string
	attrs        uint64
}

var (
	esp  = part{name: ESPName, typ: gpt.EFISystemPartition, startMiB: 1, endMiB: 33, guid: "11111111-2222-3333-4444-555555555555", attrs: 1}
	data = func(start, end int64) part {
		return part{name: DataName, typ: gpt.LinuxFilesystem, startMiB: start, endMiB: end, guid: "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"}
	}
)

const diskGUID = "01234567-89AB-CDEF-0123-456789ABCDEF"

// makeImage writes a GPT for a disk of imageBytes to a file, then sizes
// the file to diskBytes, as flashing the image to a bigger stick does.
func makeImage(t *testing.T, sector int, imageBytes, diskBytes int64, parts ...part) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(imageBytes); err != nil {
		t.Fatal(err)
	}
	tab := &gpt.Table{LogicalSectorSize: sector, PhysicalSectorSize: sector, ProtectiveMBR: true, GUID: diskGUID}
	for i, p := range parts {
		idx := p.index
		if idx == 0 {
			idx = i + 1
		}
		gp := &gpt.Partition{Index: idx, Type: p.typ, Name: p.name, GUID: p.guid, Attributes: p.attrs,
			Start: p.startS, End: p.endS}
		if p.startS == 0 {
			gp.Start = uint64(p.startMiB * mib / int64(sector))
			gp.End = uint64(p.endMiB*mib/int64(sector)) - 1
		}
		tab.Partitions = append(tab.Partitions, gp)
	}
	if err := tab.Write(f, imageBytes); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(diskBytes); err != nil {
		t.Fatal(err)
	}
	return path
}

func readTable(t *testing.T, path string, sector int) *gpt.Table {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := gpt.Read(f, sector, sector)
	if err != nil {
		t.Fatalf("read GPT of %s: %v", path, err)
	}
	return tab
}

func TestPlanDisk(t *testing.T) {
	for _, c := range []struct {
		name        string
		sector      int
		image, disk int64
		parts       []part
		// want
		action     action
		relocate   bool
		start, end uint64 // of the data partition, in sectors (end inclusive)
		index      int
		warn       bool
		err        error
	}{
		{
			name: "image on a disk of its size: data fills to the last whole MiB", sector: 512,
			image: 128 * mib, disk: 128 * mib, parts: []part{esp, data(33, 97)},
			action: grow, start: 33 * 2048, end: 127*2048 - 1, index: 2,
		},
		{
			name: "image flashed to a bigger stick", sector: 512,
			image: 128 * mib, disk: 512 * mib, parts: []part{esp, data(33, 97)},
			action: grow, relocate: true, start: 33 * 2048, end: 511*2048 - 1, index: 2,
		},
		{
			name: "already grown", sector: 512,
			image: 512 * mib, disk: 512 * mib, parts: []part{esp, data(33, 511)},
			action: keep, start: 33 * 2048, end: 511*2048 - 1, index: 2,
		},
		{
			name: "disk grew by 8 KiB: only the backup header moves", sector: 512,
			image: 512 * mib, disk: 512*mib + 8<<10, parts: []part{esp, data(33, 511)},
			action: keep, relocate: true, start: 33 * 2048, end: 511*2048 - 1, index: 2,
		},
		{
			name: "4 KiB sectors, bigger stick", sector: 4096,
			image: 128 * mib, disk: 1024 * mib, parts: []part{esp, data(33, 97)},
			action: grow, relocate: true, start: 33 * 256, end: 1023*256 - 1, index: 2,
		},
		{
			name: "data partition not last: not grown", sector: 512,
			image: 128 * mib, disk: 512 * mib,
			parts:  []part{esp, data(33, 97), {name: "other", typ: gpt.LinuxFilesystem, startMiB: 97, endMiB: 98}},
			action: keep, relocate: true, start: 33 * 2048, end: 97*2048 - 1, index: 2, warn: true,
		},
		{
			name: "data partition in slot 5, before the ESP on disk", sector: 512,
			image: 128 * mib, disk: 256 * mib,
			parts: []part{{name: DataName, typ: gpt.LinuxFilesystem, index: 5, startMiB: 1, endMiB: 65},
				{name: ESPName, typ: gpt.EFISystemPartition, startMiB: 65, endMiB: 97}},
			action: keep, relocate: true, start: 2048, end: 65*2048 - 1, index: 5, warn: true,
		},
		{
			name: "ESP only: created after it", sector: 512,
			image: 128 * mib, disk: 128 * mib, parts: []part{esp},
			action: create, start: 33 * 2048, end: 127*2048 - 1, index: 2,
		},
		{
			name: "ESP only on a bigger stick", sector: 512,
			image: 64 * mib, disk: 1024 * mib, parts: []part{esp},
			action: create, relocate: true, start: 33 * 2048, end: 1023*2048 - 1, index: 2,
		},
		{
			name: "ESP ending off a MiB boundary: start aligned up", sector: 512,
			image: 128 * mib, disk: 128 * mib,
			parts:  []part{{name: ESPName, typ: gpt.EFISystemPartition, startS: 34, endS: 33*2048 + 7}},
			action: create, start: 34 * 2048, end: 127*2048 - 1, index: 2,
		},
		{
			name: "ESP in slot 3: the new partition takes slot 1", sector: 512,
			image: 128 * mib, disk: 128 * mib,
			parts:  []part{{name: ESPName, typ: gpt.EFISystemPartition, index: 3, startMiB: 1, endMiB: 33}},
			action: create, start: 33 * 2048, end: 127*2048 - 1, index: 1,
		},
		{
			name: "exactly 64 MiB free", sector: 512,
			image: 98 * mib, disk: 98 * mib, parts: []part{esp},
			action: create, start: 33 * 2048, end: 97*2048 - 1, index: 2,
		},
		{
			name: "less than 64 MiB free", sector: 512,
			image: 97 * mib, disk: 97 * mib, parts: []part{esp},
			err: errNoSpace,
		},
		{
			name: "no ESP and no data partition", sector: 512,
			image: 128 * mib, disk: 512 * mib,
			parts: []part{{name: "rootfs", typ: gpt.LinuxFilesystem, startMiB: 1, endMiB: 64}},
			err:   errNotOurs,
		},
		{
			name: "two data partitions", sector: 512,
			image: 128 * mib, disk: 512 * mib, parts: []part{esp, data(33, 65), data(65, 97)},
			err: errTwoData,
		},
		{
			name: "empty table", sector: 512, image: 128 * mib, disk: 128 * mib,
			err: errNotOurs,
		},
		{
			name: "table bigger than the disk: data used as is", sector: 512,
			image: 512 * mib, disk: 128 * mib, parts: []part{esp, data(33, 97)},
			action: keep, start: 33 * 2048, end: 97*2048 - 1, index: 2, warn: true,
		},
		{
			name: "table bigger than the disk: nothing created", sector: 512,
			image: 512 * mib, disk: 128 * mib, parts: []part{esp},
			err: errNoSpace,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := makeImage(t, c.sector, c.image, c.disk, c.parts...)
			tab := readTable(t, path, c.sector)
			pl, err := planDisk(tab, c.disk)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("planDisk error = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pl.action != c.action || pl.relocate != c.relocate {
				t.Errorf("plan = %v relocate=%v, want %v relocate=%v", pl.action, pl.relocate, c.action, c.relocate)
			}
			if pl.part.Start != c.start || pl.part.End != c.end || pl.part.Index != c.index {
				t.Errorf("data partition %d = [%d, %d], want %d = [%d, %d]",
					pl.part.Index, pl.part.Start, pl.part.End, c.index, c.start, c.end)
			}
			if (pl.warning != "") != c.warn {
				t.Errorf("warning = %q, want one: %v", pl.warning, c.warn)
			}
			alignS := uint64(mib / c.sector)
			if pl.action != keep && (pl.part.Start%alignS != 0 || (pl.part.End+1)%alignS != 0) {
				t.Errorf("data partition [%d, %d] is not MiB aligned", pl.part.Start, pl.part.End)
			}
			if want := int64(pl.part.End-pl.part.Start+1) * int64(c.sector); pl.newBytes != want {
				t.Errorf("newBytes = %d, want %d", pl.newBytes, want)
			}
			if pl.changed() {
				checkWritten(t, path, c.sector, c.disk, tab, pl)
			}
		})
	}
}

// checkWritten writes the planned table and reads it back: the backup
// header is at the end of the disk, the old one is gone, and everything
// not planned to change (GUIDs, attributes, other partitions) is kept.
func checkWritten(t *testing.T, path string, sector int, diskBytes int64, tab *gpt.Table, pl plan) {
	t.Helper()
	before := readTable(t, path, sector)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := writeTable(f, tab, diskBytes, pl); err != nil {
		t.Fatal(err)
	}
	after := readTable(t, path, sector)
	if err := after.Verify(f, uint64(diskBytes)); err != nil {
		t.Errorf("backup GPT: %v", err)
	}
	if pl.relocate {
		b := make([]byte, 8)
		f.ReadAt(b, int64(pl.oldBackup)*int64(sector))
		if bytes.Equal(b, []byte("EFI PART")) {
			t.Errorf("old backup header at LBA %d still there", pl.oldBackup)
		}
	}
	if after.GUID != before.GUID {
		t.Errorf("disk GUID %s → %s", before.GUID, after.GUID)
	}
	byIndex := map[int]*gpt.Partition{}
	for _, p := range after.Partitions {
		byIndex[p.Index] = p
	}
	for _, p := range before.Partitions {
		q := byIndex[p.Index]
		if q == nil {
			t.Errorf("partition %d lost", p.Index)
			continue
		}
		if q.GUID != p.GUID || q.Name != p.Name || q.Type != p.Type || q.Attributes != p.Attributes || q.Start != p.Start {
			t.Errorf("partition %d changed: %+v → %+v", p.Index, p, q)
		}
		if p.Name != DataName && q.End != p.End {
			t.Errorf("partition %d (%s) resized", p.Index, p.Name)
		}
	}
	d := byIndex[pl.part.Index]
	if d == nil || d.Name != DataName || d.Type != gpt.LinuxFilesystem || d.Start != pl.part.Start || d.End != pl.part.End {
		t.Errorf("data partition on disk = %+v, want [%d, %d]", d, pl.part.Start, pl.part.End)
	}
	if len(after.Partitions) != len(before.Partitions)+map[bool]int{true: 1}[pl.action == create] {
		t.Errorf("%d partitions after writing, %d before", len(after.Partitions), len(before.Partitions))
	}
	// Planning again on the written table changes nothing.
	again, err := planDisk(after, diskBytes)
	if err != nil || again.changed() {
		t.Errorf("second plan = %v relocate=%v (%v), want no change", again.action, again.relocate, err)
	}
}

func TestHuman(t *testing.T) {
	for n, want := range map[int64]string{
		512: "512 B", 4096: "4 KiB", 64 * mib: "64 MiB", 1023 * mib: "1023 MiB",
		1024 * mib: "1.0 GiB", 1536 * mib: "1.5 GiB", 3 << 40: "3.0 TiB",
	} {
		if got := human(n); got != want {
			t.Errorf("human(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestBootFirst(t *testing.T) {
	mk := func(name string, parts ...*gpt.Partition) *disk {
		return &disk{name: name, table: &gpt.Table{Partitions: parts}}
	}
	a := mk("sda", &gpt.Partition{Name: DataName, Type: gpt.LinuxFilesystem, GUID: "AAAA"})
	b := mk("sdb", &gpt.Partition{Name: ESPName, Type: gpt.EFISystemPartition, GUID: "BBBB"})
	c := mk("sdc", &gpt.Partition{Name: ESPName, Type: gpt.EFISystemPartition, GUID: "CCCC"})
	n := &disk{name: "sdd"}
	names := func(ds []*disk) (s string) {
		for _, d := range ds {
			s += d.name + " "
		}
		return s
	}
	for uuid, want := range map[string]string{
		"":     "sdb sdc sda sdd ",
		"cccc": "sdc sdb sda sdd ",
		"AAAA": "sda sdb sdc sdd ",
		"ffff": "sdb sdc sda sdd ",
	} {
		if got := names(bootFirst([]*disk{a, b, c, n}, uuid)); got != want {
			t.Errorf("boot partition %q: order %s, want %s", uuid, got, want)
		}
	}
}

// TestPlanRepairsPrimary damages the primary GPT header: the table is read
// from the backup, and writing the plan restores the primary.
func TestPlanRepairsPrimary(t *testing.T) {
	path := makeImage(t, 512, 128*mib, 128*mib, esp, data(33, 127))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("garbage"), 512+24); err != nil {
		t.Fatal(err)
	}
	tab := readTable(t, path, 512)
	if !tab.RecoveredFromBackup {
		t.Fatal("damaged primary not detected")
	}
	pl, err := planDisk(tab, 128*mib)
	if err != nil || !pl.repair || pl.action != keep || pl.relocate {
		t.Fatalf("plan = %+v, %v; want a repair only", pl, err)
	}
	if err := writeTable(f, tab, 128*mib, pl); err != nil {
		t.Fatal(err)
	}
	if again := readTable(t, path, 512); again.RecoveredFromBackup || again.Partitions[1].Name != DataName {
		t.Errorf("after repair: recovered=%v partitions=%v", again.RecoveredFromBackup, again.Partitions)
	}
}

// TestPlanHugeDisk grows onto a 3 TiB disk, beyond what the protective
// MBR's 32-bit sector count can describe.
func TestPlanHugeDisk(t *testing.T) {
	const size = 3 << 40
	path := makeImage(t, 512, 128*mib, size, esp, data(33, 97))
	tab := readTable(t, path, 512)
	pl, err := planDisk(tab, size)
	if err != nil || pl.action != grow || !pl.relocate {
		t.Fatalf("plan = %+v, %v", pl, err)
	}
	if want := uint64(size/512 - 2048 - 1); pl.part.End != want {
		t.Errorf("data partition ends at %d, want %d", pl.part.End, want)
	}
	checkWritten(t, path, 512, size, tab, pl)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mbr := make([]byte, 512)
	f.ReadAt(mbr, 0)
	if mbr[446+4] != 0xEE || !bytes.Equal(mbr[446+12:446+16], []byte{0xFF, 0xFF, 0xFF, 0xFF}) || mbr[510] != 0x55 {
		t.Errorf("protective MBR entry %x, want type EE and 0xFFFFFFFF sectors", mbr[446:462])
	}
}
