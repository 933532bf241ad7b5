package datapart

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The "never destroy data to recover" tests: a data partition that is not
// blank is formatted by no one but the boot that created it.

// formattedWithFile runs a first Setup on a fresh 128 MiB stick (disk and
// table the same size, so later Setups change no table), writes a file and
// unmounts. It returns the image, the sysfs dir and the partition's node.
func formattedWithFile(t *testing.T) (img, sysBlock, dev, mp string) {
	t.Helper()
	img = makeImage(t, 512, 128*mib, 128*mib, esp, data(33, 127))
	name, sysBlock := loopDisk(t, img)
	waitParts(t, name, 2)
	mp = mountPoint(t)
	res, err := Setup(ctx(t), setupOpts(t, sysBlock, mp))
	if err != nil || !res.Formatted {
		t.Fatalf("first Setup = %+v, %v; want a fresh format", res, err)
	}
	if err := os.WriteFile(filepath.Join(mp, "vm.qcow2"), []byte("a tenant's disk"), 0o644); err != nil {
		t.Fatal(err)
	}
	unmount(t, mp)
	return img, sysBlock, res.Device, mp
}

// overwrite writes b at off on dev and syncs, so the loop device's backing
// file holds it before anything hashes or reads that file.
func overwrite(t *testing.T, dev string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// superblockOffsets lists the byte offsets of every superblock on dev,
// primary and backups, as dumpe2fs reports them: an independent reading
// of the layout, not this package's own search.
func superblockOffsets(t *testing.T, dev string) []int64 {
	t.Helper()
	out, err := exec.Command("/sbin/dumpe2fs", dev).CombinedOutput()
	if err != nil {
		t.Fatalf("dumpe2fs %s: %v: %s", dev, err, out)
	}
	m := regexp.MustCompile(`(?m)^Block size:\s+(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("dumpe2fs: no block size in %s", out)
	}
	bs, _ := strconv.ParseInt(string(m[1]), 10, 64)
	var offs []int64
	for _, m := range regexp.MustCompile(`(?:Primary|Backup) superblock at (\d+)`).FindAllSubmatch(out, -1) {
		blk, _ := strconv.ParseInt(string(m[1]), 10, 64)
		off := blk * bs
		if blk == 0 || (bs == 1024 && blk == 1) {
			off = sbOffset // the primary sits 1024 bytes in, whatever the block size
		}
		offs = append(offs, off)
	}
	if len(offs) < 2 {
		t.Fatalf("dumpe2fs lists %d superblocks; the test needs a primary and a backup", len(offs))
	}
	return offs
}

func TestHostPrimarySuperblockZeroed(t *testing.T) {
	requireRoot(t)
	_, sysBlock, dev, mp := formattedWithFile(t)
	overwrite(t, dev, sbOffset, make([]byte, 1024))
	if sb, err := readSuperblock(dev); err != nil || sb != nil {
		t.Fatalf("superblock after zeroing: %+v, %v", sb, err)
	}

	res, err := Setup(ctx(t), setupOpts(t, sysBlock, mp))
	if err != nil {
		t.Fatalf("Setup with the primary superblock zeroed: %v", err)
	}
	if res.Formatted || res.Recovered == 0 {
		t.Errorf("Setup = %+v; want no format and a repair from a backup superblock", res)
	}
	if b, err := os.ReadFile(filepath.Join(mp, "vm.qcow2")); err != nil || string(b) != "a tenant's disk" {
		t.Errorf("file after recovery = %q, %v", b, err)
	}
	if s := Status(res, err); !strings.Contains(s, "repaired from backup at block") {
		t.Errorf("Status = %q", s)
	}
	checkMounted(t, mp, dev, 94*mib)
}

// TestHostPrimarySuperblockGarbled keeps the magic but scrambles the rest
// of the primary superblock, as a bit flip or torn write inside it would.
func TestHostPrimarySuperblockGarbled(t *testing.T) {
	requireRoot(t)
	_, sysBlock, dev, mp := formattedWithFile(t)
	// Inode and block counts and the first data block: garbage, but
	// block size and magic stay readable, so the superblock still parses
	// and it is e2fsck that must find it unusable.
	junk := make([]byte, 0x18)
	for i := range junk {
		junk[i] = byte(0xA5 ^ i)
	}
	overwrite(t, dev, sbOffset, junk)
	if sb, err := readSuperblock(dev); err != nil || sb == nil {
		t.Fatalf("garbled superblock does not parse: %+v, %v", sb, err)
	}

	res, err := Setup(ctx(t), setupOpts(t, sysBlock, mp))
	if err != nil {
		t.Fatalf("Setup with a garbled primary superblock: %v", err)
	}
	if res.Formatted {
		t.Errorf("Setup = %+v; formatted a filesystem it could repair", res)
	}
	if b, err := os.ReadFile(filepath.Join(mp, "vm.qcow2")); err != nil || string(b) != "a tenant's disk" {
		t.Errorf("file after recovery = %q, %v", b, err)
	}
}

func TestHostAllSuperblocksDestroyed(t *testing.T) {
	requireRoot(t)
	img, sysBlock, dev, mp := formattedWithFile(t)
	for _, off := range superblockOffsets(t, dev) {
		overwrite(t, dev, off, make([]byte, 1024))
	}
	before := fileHash(t, img)

	res, err := Setup(ctx(t), setupOpts(t, sysBlock, mp))
	t.Logf("error: %v", err)
	var de *DamagedError
	if !errors.As(err, &de) || !errors.Is(err, ErrDamaged) || errors.Is(err, ErrNoDisk) {
		t.Fatalf("Setup = %+v, %v; want a *DamagedError", res, err)
	}
	if de.Device != dev || res == nil || res.Formatted || res.Check != "damaged" {
		t.Errorf("Setup = %+v, %+v", res, de)
	}
	for _, want := range []string{dev, "NOT formatted", "e2fsck -b", "dd if=/dev/zero of=" + dev} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	if fileHash(t, img) != before {
		t.Error("Setup wrote to a data partition it refused")
	}
	if mountedAt(dev) != "" {
		t.Error("damaged partition mounted")
	}
	if s := Status(res, err); !strings.Contains(s, "NOT MOUNTED") || !strings.Contains(s, "no usable superblock") ||
		!strings.Contains(s, "not formatted") || !strings.Contains(s, dev) {
		t.Errorf("Status = %q", s)
	}
}

// TestHostFormatsOnlyBlank is the positive control beside the refusals: a
// partition that holds something but no ext4 is refused and left as it
// is; once its first MiB is zeroed, the same partition is formatted.
func TestHostFormatsOnlyBlank(t *testing.T) {
	requireRoot(t)
	img := makeImage(t, 512, 128*mib, 128*mib, esp, data(33, 127))
	name, sysBlock := loopDisk(t, img)
	waitParts(t, name, 2)
	dev := "/dev/" + name + "p2"
	mp := mountPoint(t)
	overwrite(t, dev, 512*1024, []byte("not a filesystem, but someone's bytes"))
	before := fileHash(t, img)

	res, err := Setup(ctx(t), setupOpts(t, sysBlock, mp))
	if !errors.Is(err, ErrDamaged) || res.Formatted {
		t.Fatalf("Setup on a non-blank partition without ext4 = %+v, %v; want ErrDamaged", res, err)
	}
	if fileHash(t, img) != before {
		t.Error("Setup wrote to a partition it refused")
	}

	overwrite(t, dev, 0, make([]byte, blankBytes))
	res, err = Setup(ctx(t), setupOpts(t, sysBlock, mp))
	if err != nil || !res.Formatted || res.Check != "new" {
		t.Fatalf("Setup on a zeroed partition = %+v, %v; want a format", res, err)
	}
	checkMounted(t, mp, dev, 94*mib)
}

// TestHostCreatedOverStaleBytes creates the data partition where an old
// partition once left bytes: this boot made the partition, so it formats
// it, and a power cut after the table write would still leave it blank.
func TestHostCreatedOverStaleBytes(t *testing.T) {
	requireRoot(t)
	img := makeImage(t, 512, 128*mib, 128*mib, esp)
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("stale bytes in unallocated space"), 33*mib+4096); err != nil {
		t.Fatal(err)
	}
	f.Close()
	name, sysBlock := loopDisk(t, img)
	waitParts(t, name, 1)
	mp := mountPoint(t)
	res, err := Setup(ctx(t), setupOpts(t, sysBlock, mp))
	if err != nil || !res.Created || !res.Formatted {
		t.Fatalf("Setup = %+v, %v; want the partition created and formatted", res, err)
	}
	checkMounted(t, mp, res.Device, 94*mib)
}
