package disk

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path"
	"sort"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/backend/file"
	ddisk "github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/nucbox/nucbox/image/esp"
)

const sectorSize = 512

// backupGPTSectors is the backup partition array (128 entries of 128
// bytes) and header at the end of the disk.
const backupGPTSectors = 33

// Options describe one disk image.
type Options struct {
	// Size is the whole image in bytes, a multiple of 512.
	Size int64
	// ESPSize is the ESP's size, a multiple of 1 MiB; default
	// esp.DefaultESPSize.
	ESPSize int64
	// Files are the ESP's contents by absolute path, e.g.
	// esp.BootLoader. Directories are created as needed.
	Files map[string][]byte
}

// Layout is where the partitions lie, in 512-byte sectors (first and
// last, inclusive, as GPT counts them).
type Layout struct {
	ESPStart, ESPEnd   uint64
	DataStart, DataEnd uint64
}

// Plan computes the layout for an image of size bytes with an ESP of
// espSize bytes: the ESP at 1 MiB, the data partition after it up to the
// last whole MiB before the backup GPT.
func Plan(size, espSize int64) (Layout, error) {
	if espSize == 0 {
		espSize = esp.DefaultESPSize
	}
	if size <= 0 || size%sectorSize != 0 {
		return Layout{}, fmt.Errorf("disk size %d is not a positive multiple of %d bytes", size, sectorSize)
	}
	if espSize%esp.Alignment != 0 || espSize < 33<<20 {
		// Below 33 MiB FAT32 cannot have enough clusters at 512 bytes.
		return Layout{}, fmt.Errorf("ESP size %d: want a whole number of MiB, at least 33 MiB", espSize)
	}
	align := uint64(esp.Alignment / sectorSize)
	sectors := uint64(size / sectorSize)
	l := Layout{ESPStart: align}
	l.ESPEnd = l.ESPStart + uint64(espSize/sectorSize) - 1
	l.DataStart = l.ESPEnd + 1
	lastUsable := sectors - backupGPTSectors - 1
	l.DataEnd = (lastUsable+1)/align*align - 1
	if l.DataEnd < l.DataStart+align-1 {
		min := int64(l.DataStart+align+backupGPTSectors) * sectorSize
		min = (min + esp.Alignment - 1) / esp.Alignment * esp.Alignment
		return Layout{}, fmt.Errorf("disk size %d MiB leaves no room for a data partition after a %d MiB ESP (need at least %d MiB)",
			size>>20, espSize>>20, min>>20)
	}
	return l, nil
}

// Write creates the image at path, which must not exist.
func Write(path string, o Options) (err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return WriteTo(f, o)
}

// WriteTo writes the image into f, an open regular file whose previous
// contents are discarded, and syncs it. f stays open.
func WriteTo(f *os.File, o Options) error {
	l, err := Plan(o.Size, o.ESPSize)
	if err != nil {
		return err
	}
	// A sparse file: the unwritten data partition costs no space.
	if err := f.Truncate(0); err != nil {
		return err
	}
	if err := f.Truncate(o.Size); err != nil {
		return err
	}
	d, err := diskfs.OpenBackend(file.New(f, false), diskfs.WithSectorSize(sectorSize))
	if err != nil {
		return err
	}
	seed := contentSeed(o.Files)
	table := &gpt.Table{
		LogicalSectorSize:  sectorSize,
		PhysicalSectorSize: sectorSize,
		ProtectiveMBR:      true,
		GUID:               guid(seed, "disk"),
		Partitions: []*gpt.Partition{
			{Index: 1, Start: l.ESPStart, End: l.ESPEnd, Type: gpt.Type(esp.ESPType), Name: esp.ESPName, GUID: guid(seed, esp.ESPName)},
			{Index: 2, Start: l.DataStart, End: l.DataEnd, Type: gpt.Type(esp.DataType), Name: esp.DataName, GUID: guid(seed, esp.DataName)},
		},
	}
	if err := d.Partition(table); err != nil {
		return fmt.Errorf("writing the partition table: %w", err)
	}
	if err := fillESP(d, o.Files); err != nil {
		return err
	}
	// Explicit zeros, so that the promise holds whatever the file
	// system does with holes.
	if _, err := f.WriteAt(make([]byte, esp.Alignment), int64(l.DataStart)*sectorSize); err != nil {
		return err
	}
	return f.Sync()
}

func fillESP(d *ddisk.Disk, files map[string][]byte) error {
	fs, err := d.CreateFilesystem(ddisk.FilesystemSpec{
		Partition:    1,
		FSType:       filesystem.TypeFat32,
		VolumeLabel:  esp.ESPLabel,
		Reproducible: true,
	})
	if err != nil {
		return fmt.Errorf("creating the ESP's FAT32: %w", err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	made := map[string]bool{"/": true}
	for _, n := range names {
		if !path.IsAbs(n) || path.Clean(n) != n {
			return fmt.Errorf("ESP path %q: want a clean absolute path", n)
		}
		if dir := path.Dir(n); !made[dir] {
			if err := fs.Mkdir(dir); err != nil {
				return fmt.Errorf("ESP: mkdir %s: %w", dir, err)
			}
			for p := dir; p != "/"; p = path.Dir(p) {
				made[p] = true
			}
		}
		w, err := fs.OpenFile(n, os.O_CREATE|os.O_RDWR)
		if err != nil {
			return fmt.Errorf("ESP: create %s: %w", n, err)
		}
		if _, err := w.Write(files[n]); err != nil {
			w.Close()
			return fmt.Errorf("ESP: write %s: %w", n, err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("ESP: write %s: %w", n, err)
		}
	}
	return nil
}

// contentSeed hashes the ESP's files, so that GUIDs differ between
// images and repeat for the same image.
func contentSeed(files map[string][]byte) []byte {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(files[n]))
		h.Write(files[n])
	}
	return h.Sum(nil)
}

// guid derives a random-looking (version 4) GUID from seed and what.
func guid(seed []byte, what string) string {
	h := sha256.Sum256(append(append([]byte(nil), seed...), what...))
	b := h[:16]
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%X-%X-%X-%X-%X", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ReadFile reads a file from the ESP of an image or disk; tests and
// tools use it to check what a disk carries.
func ReadFile(image, name string) ([]byte, error) {
	d, err := diskfs.Open(image, diskfs.WithOpenMode(diskfs.ReadOnly), diskfs.WithSectorSize(sectorSize))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	fs, err := d.GetFilesystem(1)
	if err != nil {
		return nil, fmt.Errorf("%s: partition 1: %w", image, err)
	}
	r, err := fs.OpenFile(name, os.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", image, name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return b, nil
}
