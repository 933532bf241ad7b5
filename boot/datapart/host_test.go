package datapart

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// The host tier runs Setup on loop devices: real partition scanning, real
// BLKPG, real e2fsprogs and mounts, on images in t.TempDir().

func setupOpts(t *testing.T, sysBlock, mp string) Options {
	return Options{
		MountPoint: mp,
		SysBlock:   sysBlock,
		Logf:       func(f string, a ...any) { t.Logf(f, a...) },
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func TestHostFirstBootOnBiggerStick(t *testing.T) {
	requireRoot(t)
	img := makeImage(t, 512, 128*mib, 512*mib, esp, data(33, 97))
	name, sysBlock := loopDisk(t, img)
	waitParts(t, name, 2)
	mp := mountPoint(t)

	start := time.Now()
	res, err := Setup(ctx(t), setupOpts(t, sysBlock, mp))
	t.Logf("Setup (format+grow of a 512 MiB stick) took %v", time.Since(start))
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Device: "/dev/" + name + "p2", Disk: "/dev/" + name, Formatted: true, Grown: true,
		Size: 478 * mib, Check: "new"}
	if *res != want {
		t.Errorf("first Setup = %+v, want %+v", *res, want)
	}
	checkMounted(t, mp, res.Device, 478*mib)
	checkTable(t, img, 512*mib, 2, 33*2048, 511*2048-1)

	if err := os.WriteFile(filepath.Join(mp, "kept"), []byte("across boots"), 0o644); err != nil {
		t.Fatal(err)
	}
	unmount(t, mp)

	res, err = Setup(ctx(t), setupOpts(t, sysBlock, mp))
	if err != nil {
		t.Fatal(err)
	}
	want.Formatted, want.Grown, want.Check = false, false, "clean"
	if *res != want {
		t.Errorf("second Setup = %+v, want %+v", *res, want)
	}
	if b, err := os.ReadFile(filepath.Join(mp, "kept")); err != nil || string(b) != "across boots" {
		t.Errorf("file after second Setup = %q, %v", b, err)
	}

	// Called again while mounted (PID 1 re-exec'd): nothing to do.
	res, err = Setup(ctx(t), setupOpts(t, sysBlock, mp))
	if err != nil || res.Check != "mounted" || res.Formatted {
		t.Errorf("Setup while mounted = %+v, %v", res, err)
	}
	// Mounted elsewhere: refuse rather than mount it twice.
	if _, err := Setup(ctx(t), setupOpts(t, sysBlock, mountPoint(t))); err == nil || !strings.Contains(err.Error(), "already mounted") {
		t.Errorf("Setup with the partition mounted elsewhere: %v", err)
	}
}

// TestHostGrowsExistingFilesystem covers the stick whose data partition
// already carries a filesystem when the disk gets bigger (an image copied
// to a larger stick with dd): partition and filesystem grow, files stay.
func TestHostGrowsExistingFilesystem(t *testing.T) {
	requireRoot(t)
	img := makeImage(t, 512, 128*mib, 128*mib, esp, data(33, 97))
	name, sysBlock := loopDisk(t, img)
	waitParts(t, name, 2)
	mp := mountPoint(t)
	res, err := Setup(ctx(t), setupOpts(t, sysBlock, mp))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Formatted || res.Size != 94*mib {
		t.Fatalf("Setup on 128 MiB = %+v", res)
	}
	if err := os.WriteFile(filepath.Join(mp, "kept"), []byte("before growing"), 0o644); err != nil {
		t.Fatal(err)
	}
	unmount(t, mp)

	if err := os.Truncate(img, 1024*mib); err != nil {
		t.Fatal(err)
	}
	loop, err := os.OpenFile("/dev/"+name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	err = unix.IoctlSetInt(int(loop.Fd()), unix.LOOP_SET_CAPACITY, 0)
	loop.Close()
	if err != nil {
		t.Fatalf("LOOP_SET_CAPACITY: %v", err)
	}

	start := time.Now()
	res, err = Setup(ctx(t), setupOpts(t, sysBlock, mp))
	t.Logf("Setup (grow 94 MiB → 990 MiB with resize2fs) took %v", time.Since(start))
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Device: "/dev/" + name + "p2", Disk: "/dev/" + name, Grown: true, Size: 990 * mib, Check: "clean"}
	if *res != want {
		t.Errorf("Setup after growing = %+v, want %+v", *res, want)
	}
	checkMounted(t, mp, res.Device, 990*mib)
	checkTable(t, img, 1024*mib, 2, 33*2048, 1023*2048-1)
	if b, err := os.ReadFile(filepath.Join(mp, "kept")); err != nil || string(b) != "before growing" {
		t.Errorf("file after growing = %q, %v", b, err)
	}
}

func TestHostCreatesDataPartition(t *testing.T) {
	requireRoot(t)
	img := makeImage(t, 512, 128*mib, 128*mib, esp)
	name, sysBlock := loopDisk(t, img)
	waitParts(t, name, 1)
	mp := mountPoint(t)
	res, err := Setup(ctx(t), setupOpts(t, sysBlock, mp))
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Device: "/dev/" + name + "p2", Disk: "/dev/" + name, Created: true, Formatted: true,
		Size: 94 * mib, Check: "new"}
	if *res != want {
		t.Errorf("Setup = %+v, want %+v", *res, want)
	}
	checkMounted(t, mp, res.Device, 94*mib)
	checkTable(t, img, 128*mib, 2, 33*2048, 127*2048-1)
}

func TestHostNoDisk(t *testing.T) {
	requireRoot(t)
	for _, c := range []struct {
		name  string
		disk  int64
		parts []part
	}{
		{"no ESP, no data partition", 160 * mib,
			[]part{{name: "rootfs", typ: gpt.LinuxFilesystem, startMiB: 1, endMiB: 64, guid: "22222222-2222-3333-4444-555555555555"}}},
		{"ESP without room", 96 * mib, []part{esp}},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := makeImage(t, 512, c.disk, c.disk, c.parts...)
			before := fileHash(t, img)
			name, sysBlock := loopDisk(t, img)
			waitParts(t, name, len(c.parts))
			mp := mountPoint(t)
			res, err := Setup(ctx(t), setupOpts(t, sysBlock, mp))
			if !errors.Is(err, ErrNoDisk) {
				t.Fatalf("Setup = %+v, %v; want ErrNoDisk", res, err)
			}
			t.Logf("error: %v", err)
			if fileHash(t, img) != before {
				t.Error("Setup wrote to a disk it did not use")
			}
			if _, err := os.Stat(mp); err == nil {
				t.Error("mount point created without a partition to mount")
			}
		})
	}
}

// TestHostFsckVerdict makes e2fsck report errors it could not fix
// (exit 4): Setup must fail and leave the filesystem unmounted. Exit 1
// (errors fixed) must mount.
func TestHostFsckVerdict(t *testing.T) {
	requireRoot(t)
	img := makeImage(t, 512, 128*mib, 128*mib, esp, data(33, 127))
	name, sysBlock := loopDisk(t, img)
	waitParts(t, name, 2)
	mp := mountPoint(t)
	if _, err := Setup(ctx(t), setupOpts(t, sysBlock, mp)); err != nil {
		t.Fatal(err)
	}
	unmount(t, mp)

	o := setupOpts(t, sysBlock, mp)
	o.E2fsck = fakeFsck(t, 4, "/dev/"+name+"p2: UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.")
	res, err := Setup(ctx(t), o)
	if err == nil || errors.Is(err, ErrNoDisk) || res == nil || res.Check != "errors left uncorrected" {
		t.Fatalf("Setup with e2fsck exit 4 = %+v, %v; want a failure that is not ErrNoDisk", res, err)
	}
	if mountedAt(res.Device) != "" {
		t.Fatal("filesystem mounted although e2fsck could not fix it")
	}

	o.E2fsck = fakeFsck(t, 1, "fixed something")
	res, err = Setup(ctx(t), o)
	if err != nil || res.Check != "errors corrected" || mountedAt(res.Device) != mp {
		t.Fatalf("Setup with e2fsck exit 1 = %+v, %v; want mounted", res, err)
	}
}

func checkMounted(t *testing.T, mp, dev string, size int64) {
	t.Helper()
	if got := mountedAt(dev); got != mp {
		t.Fatalf("%s mounted at %q, want %s", dev, got, mp)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(mp, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.EXT4_SUPER_MAGIC {
		t.Errorf("%s: filesystem type %#x, want ext4", mp, st.Type)
	}
	sb, err := readSuperblock(dev)
	if err != nil || sb == nil {
		t.Fatalf("superblock of %s: %v", dev, err)
	}
	if sb.size != size || sb.label != DataName {
		t.Errorf("filesystem on %s: %s labelled %q, want %s labelled %q", dev, human(sb.size), sb.label, human(size), DataName)
	}
	mi, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(mp))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mi {
		if !slices.Contains(strings.Split(m.Options, ","), "noatime") {
			t.Errorf("%s mounted without noatime: %s", mp, m.Options)
		}
	}
}

func checkTable(t *testing.T, img string, size int64, index int, start, end uint64) {
	t.Helper()
	tab := readTable(t, img, 512)
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tab.Verify(f, uint64(size)); err != nil {
		t.Errorf("GPT on disk: %v", err)
	}
	for _, p := range tab.Partitions {
		if p.Name == DataName {
			if p.Index != index || p.Start != start || p.End != end || p.Type != gpt.LinuxFilesystem {
				t.Errorf("data partition on disk: %d [%d, %d] %s, want %d [%d, %d]", p.Index, p.Start, p.End, p.Type, index, start, end)
			}
			return
		}
	}
	t.Error("no data partition on disk")
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// TestHostFoundByLabel covers a disk partitioned by hand: no partition is
// named nucbox-data, but one carries an ext4 filesystem labelled so.
func TestHostFoundByLabel(t *testing.T) {
	requireRoot(t)
	img := makeImage(t, 512, 128*mib, 256*mib, esp,
		part{name: "linux", typ: gpt.LinuxFilesystem, startMiB: 33, endMiB: 97})
	name, sysBlock := loopDisk(t, img)
	waitParts(t, name, 2)
	o := setupOpts(t, sysBlock, "")
	o.defaults()
	if err := mkfs(ctx(t), &o, "/dev/"+name+"p2"); err != nil {
		t.Fatal(err)
	}
	before := gptBytes(t, img, 128*mib)
	mp := mountPoint(t)
	res, err := Setup(ctx(t), setupOpts(t, sysBlock, mp))
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Device: "/dev/" + name + "p2", Disk: "/dev/" + name, Size: 64 * mib, Check: "clean"}
	if *res != want {
		t.Errorf("Setup = %+v, want %+v", *res, want)
	}
	checkMounted(t, mp, res.Device, 64*mib)
	if gptBytes(t, img, 128*mib) != before {
		t.Error("GPT changed on a disk whose data partition was found by label")
	}
}

// gptBytes returns the primary GPT and the backup GPT that ends at
// tableEnd, as one string.
func gptBytes(t *testing.T, img string, tableEnd int64) string {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 2*34*512)
	f.ReadAt(b[:34*512], 0)
	f.ReadAt(b[34*512:], tableEnd-34*512)
	return string(b)
}

// TestHostBusyDiskNotRepartitioned mounts the ESP before Setup runs: the
// GPT must stay as it is, and the data partition is used at its old size.
func TestHostBusyDiskNotRepartitioned(t *testing.T) {
	requireRoot(t)
	img := makeImage(t, 512, 128*mib, 512*mib, esp, data(33, 97))
	name, sysBlock := loopDisk(t, img)
	waitParts(t, name, 2)
	o := setupOpts(t, sysBlock, "")
	o.defaults()
	espDev := "/dev/" + name + "p1"
	if err := mkfs(ctx(t), &o, espDev); err != nil {
		t.Fatal(err)
	}
	espMount := mountPoint(t)
	os.MkdirAll(espMount, 0o755)
	if err := unix.Mount(espDev, espMount, "ext4", unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	tableBefore := readTable(t, img, 512)

	mp := mountPoint(t)
	res, err := Setup(ctx(t), setupOpts(t, sysBlock, mp))
	if err != nil {
		t.Fatal(err)
	}
	if res.Grown || res.Size != 64*mib || !res.Formatted {
		t.Errorf("Setup with the ESP mounted = %+v, want the data partition formatted at 64 MiB", res)
	}
	if !readTable(t, img, 512).Equal(tableBefore) {
		t.Error("GPT rewritten while a partition of the disk was mounted")
	}
	checkMounted(t, mp, res.Device, 64*mib)
}

// TestHostPartitionUnknownToKernel removes the data partition from the
// kernel's view, as after a power cut between writing the GPT and telling
// the kernel: Setup adds it back from the table.
func TestHostPartitionUnknownToKernel(t *testing.T) {
	requireRoot(t)
	img := makeImage(t, 512, 128*mib, 128*mib, esp, data(33, 127))
	name, sysBlock := loopDisk(t, img)
	waitParts(t, name, 2)
	f, err := os.Open("/dev/" + name)
	if err != nil {
		t.Fatal(err)
	}
	err = blkpg(f, unix.BLKPG_DEL_PARTITION, 2, 0, 0)
	f.Close()
	if err != nil {
		t.Fatalf("BLKPG_DEL_PARTITION: %v", err)
	}
	if _, err := os.Stat(filepath.Join("/sys/class/block", name+"p2")); err == nil {
		t.Fatal("partition still known to the kernel")
	}
	mp := mountPoint(t)
	res, err := Setup(ctx(t), setupOpts(t, sysBlock, mp))
	if err != nil {
		t.Fatal(err)
	}
	if res.Device != "/dev/"+name+"p2" || res.Size != 94*mib || !res.Formatted || res.Grown || res.Created {
		t.Errorf("Setup = %+v", res)
	}
	checkMounted(t, mp, res.Device, 94*mib)
}
