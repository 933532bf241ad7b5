package disk

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/nucbox/nucbox/image/esp"
)

func testFiles() map[string][]byte {
	return map[string][]byte{
		esp.BootLoader:          bytes.Repeat([]byte("bootloader"), 14000),
		esp.LoaderConf:          esp.LoaderConfig(),
		esp.SlotPath(esp.SlotA): bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, 3<<20/7),
	}
}

func TestPlan(t *testing.T) {
	tests := []struct {
		size, esp int64
		want      Layout
		err       string
	}{
		{size: 1 << 30, want: Layout{2048, 2048 + 524288 - 1, 526336, 2097152 - 2048 - 1}},
		{size: 300 << 20, esp: 64 << 20, want: Layout{2048, 2048 + 131072 - 1, 133120, 614400 - 2048 - 1}},
		// Not a whole MiB: the data partition ends at the last whole one.
		{size: 1<<30 + 512*100, want: Layout{2048, 2048 + 524288 - 1, 526336, 2097152 - 1}},
		{size: 258 << 20, err: "no room for a data partition"},
		{size: 1000, err: "multiple of 512"},
		{size: 1 << 30, esp: 1000, err: "whole number of MiB"},
	}
	for _, tt := range tests {
		got, err := Plan(tt.size, tt.esp)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Plan(%d, %d) error %v, want %q", tt.size, tt.esp, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Plan(%d, %d) = %+v, %v; want %+v", tt.size, tt.esp, got, err, tt.want)
		}
	}
}

func TestWriteReadBack(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	dir := t.TempDir()
	img := filepath.Join(dir, "nucbox.img")
	files := testFiles()
	const size = 512 << 20
	if err := Write(img, Options{Size: size, Files: files}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(img)
	if err != nil || fi.Size() != size {
		t.Fatalf("image size %v, %v; want %d", fi, err, size)
	}

	d, err := diskfs.Open(img, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pt, err := d.GetPartitionTable()
	if err != nil {
		t.Fatal(err)
	}
	table, ok := pt.(*gpt.Table)
	if !ok {
		t.Fatalf("partition table is %s, want gpt", pt.Type())
	}
	if !table.ProtectiveMBR {
		t.Error("no protective MBR")
	}
	var parts []*gpt.Partition
	for _, p := range table.Partitions {
		if p.Type != gpt.Unused {
			parts = append(parts, p)
		}
	}
	if len(parts) != 2 {
		t.Fatalf("%d partitions, want 2", len(parts))
	}
	want := []struct {
		name, typ string
		size      int64
	}{
		{esp.ESPName, esp.ESPType, esp.DefaultESPSize},
		{esp.DataName, esp.DataType, size - esp.DefaultESPSize - 2<<20},
	}
	var prevEnd int64
	for i, p := range parts {
		if p.Name != want[i].name || !strings.EqualFold(string(p.Type), want[i].typ) {
			t.Errorf("partition %d: %q type %s, want %q type %s", i+1, p.Name, p.Type, want[i].name, want[i].typ)
		}
		if p.GetSize() != want[i].size {
			t.Errorf("partition %d: %d bytes, want %d", i+1, p.GetSize(), want[i].size)
		}
		if p.GetStart()%esp.Alignment != 0 || (p.GetStart()+p.GetSize())%esp.Alignment != 0 {
			t.Errorf("partition %d: %d+%d not aligned to 1 MiB", i+1, p.GetStart(), p.GetSize())
		}
		if p.GetStart() < prevEnd {
			t.Errorf("partition %d overlaps the one before", i+1)
		}
		prevEnd = p.GetStart() + p.GetSize()
	}
	if prevEnd > size-backupGPTSectors*sectorSize {
		t.Error("data partition runs into the backup GPT")
	}

	fs, err := d.GetFilesystem(1)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(fs.Label()); got != esp.ESPLabel {
		t.Errorf("ESP label %q, want %q", got, esp.ESPLabel)
	}
	if fs.Type() != filesystem.TypeFat32 {
		t.Errorf("ESP file system type %v, want FAT32", fs.Type())
	}
	for name, content := range files {
		got, err := ReadFile(img, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, content) {
			t.Errorf("%s: %d bytes differ from the %d given", name, len(got), len(content))
		}
	}
	conf, _ := ReadFile(img, esp.LoaderConf)
	if !strings.Contains(string(conf), "timeout 0\n") || !strings.Contains(string(conf), "editor no\n") {
		t.Errorf("loader.conf:\n%s", conf)
	}

	raw, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	data := parts[1].GetStart()
	if !bytes.Equal(raw[data:data+esp.Alignment], make([]byte, esp.Alignment)) {
		t.Error("the data partition's first MiB is not zero")
	}

	// Same inputs, same bytes.
	again := filepath.Join(dir, "again.img")
	if err := Write(again, Options{Size: size, Files: files}); err != nil {
		t.Fatal(err)
	}
	raw2, _ := os.ReadFile(again)
	if !bytes.Equal(raw, raw2) {
		n := 0
		for i := range raw {
			if raw[i] != raw2[i] {
				if n < 5 {
					t.Logf("offset %#x: %#02x, then %#02x", i, raw[i], raw2[i])
				}
				n++
			}
		}
		t.Errorf("two builds of the same image differ in %d bytes", n)
	}
}

func TestWriteRefusesExisting(t *testing.T) {
	img := filepath.Join(t.TempDir(), "x.img")
	os.WriteFile(img, []byte("precious"), 0o644)
	if err := Write(img, Options{Size: 512 << 20, Files: testFiles()}); err == nil {
		t.Error("an existing file was overwritten")
	}
}
