package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/image/microcode"
	"github.com/nucbox/nucbox/image/platform"
	"github.com/nucbox/nucbox/image/uki"
	"github.com/nucbox/nucbox/test/ci"
)

// testPlatform is the pinned platform from the test cache
// ($NUCBOX_TEST_CACHE/platform, or build/test/platform), fetched on
// first use: about 122 MiB once per machine (make platform does it
// before the test tiers).
func testPlatform(t *testing.T) *platform.Root {
	t.Helper()
	cache := os.Getenv("NUCBOX_TEST_CACHE")
	if cache == "" {
		cache = "../build/test"
	}
	start := time.Now()
	r, err := platform.Ensure(context.Background(), platform.Options{Cache: filepath.Join(cache, "platform")})
	if err != nil {
		ci.Missing(t, "the pinned platform: %v (the Debian archive must be reachable once; make platform fetches it)", err)
	}
	if r.Fetched > 0 {
		t.Logf("fetched and unpacked the pinned platform in %.1fs", time.Since(start).Seconds())
	}
	return r
}

func fileSum(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestPlatformBuildReproducible builds the same config from the pinned
// platform twice, into different directories and through a different
// path to the platform (as another host's cache would be), and wants
// byte-identical kernel, initramfs, UKI and disk image. Every archive
// record carries SOURCE_DATE_EPOCH and owner root, in sorted order; a
// third build with another SOURCE_DATE_EPOCH shows the time is really
// written (a small build: no QEMU, no boot media).
func TestPlatformBuildReproducible(t *testing.T) {
	ci.ShortMode(t, "three image builds from the pinned platform")
	r := testPlatform(t)
	const epoch = 1700000000
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	elsewhere := filepath.Join(t.TempDir(), "other-host-cache")
	if err := os.Symlink(r.Dir, elsewhere); err != nil {
		t.Fatal(err)
	}
	build := func(root, out string, media bool, ucode string) *Result {
		t.Helper()
		res, err := Build(context.Background(), Options{
			Microcode:  ucode,
			Config:     &Baked{Path: "testdata/config.yaml"},
			Root:       root,
			Kernel:     filepath.Join(root, "boot", "vmlinuz-"+r.Lock.Kernel),
			ModulesDir: filepath.Join(root, "lib", "modules", r.Lock.Kernel),
			OutDir:     out,
			Init:       "testdata/init",
			QEMU:       media,
			UKI:        true,
			DiskSize:   map[bool]int64{true: 160 << 20}[media],
			ESPSize:    128 << 20,
			Version:    "test",
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	one := build(r.Dir, filepath.Join(t.TempDir(), "one"), true, MicrocodePlatform)
	two := build(elsewhere, filepath.Join(t.TempDir(), "two"), true, MicrocodePlatform)
	for _, f := range []struct{ name, a, b string }{
		{"kernel", one.Kernel, two.Kernel},
		{"initramfs", one.Initramfs, two.Initramfs},
		{"UKI", one.UKI, two.UKI},
		{"disk image", one.Disk, two.Disk},
	} {
		if a, b := fileSum(t, f.a), fileSum(t, f.b); a != b {
			t.Errorf("%s differs between two builds: %s and %s", f.name, a, b)
		} else {
			t.Logf("%-10s sha256 %s", f.name, a)
		}
	}

	a := readArchive(t, one.Initramfs)
	if !sort.StringsAreSorted(a.order) {
		t.Error("archive records are not in sorted order")
	}
	for _, n := range a.order {
		rec := a.recs[n]
		if rec.MTime != epoch || rec.UID != 0 || rec.GID != 0 {
			t.Fatalf("/%s: mtime %d uid %d gid %d, want %d, 0, 0", n, rec.MTime, rec.UID, rec.GID, epoch)
		}
	}
	// What came from the platform: QEMU's libraries found from ELF
	// headers, busybox, e2fsprogs, the CA bundle made at unpack time.
	for _, n := range []string{"usr/bin/qemu-system-x86_64", "usr/lib/x86_64-linux-gnu/libglib-2.0.so.0", "lib64/ld-linux-x86-64.so.2",
		"usr/share/seabios/bios-256k.bin", "usr/share/qemu/kvmvapic.bin", "usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so", "sbin/mke2fs", "etc/mke2fs.conf", "bin/busybox",
		strings.TrimPrefix(DefaultCACerts, "/")} {
		a.resolve(t, n)
	}

	// The UKI carries the platform's microcode as .ucode, stamped like
	// the rest; an unsigned one built without asking for it has none.
	ucode := ukiSection(t, one.UKI, uki.Ucode)
	mc := readArchiveBytes(t, ".ucode", ucode)
	intel := mc.get(t, microcode.Intel)
	amd := mc.get(t, microcode.AMD)
	if intel.MTime != epoch || intel.FileSize < 1<<20 || amd.FileSize == 0 {
		t.Errorf("%s: mtime %d, %d bytes; %s: %d bytes", microcode.Intel, intel.MTime, intel.FileSize, microcode.AMD, amd.FileSize)
	}
	if got, want := mc.content(t, microcode.Intel), firstIntelUpdate(t, r.Dir); !strings.HasPrefix(got, string(want)) {
		t.Errorf("%s does not start with the platform's first intel-ucode file (%d bytes)", microcode.Intel, len(want))
	}
	t.Logf(".ucode %d bytes: %s %d, %s %d; UKI %d bytes", len(ucode), microcode.Intel, intel.FileSize, microcode.AMD, amd.FileSize, one.UKIBytes)

	t.Setenv("SOURCE_DATE_EPOCH", "1700000001")
	three := build(r.Dir, filepath.Join(t.TempDir(), "three"), false, "")
	if rec := readArchive(t, three.Initramfs).get(t, "init"); rec.MTime != epoch+1 {
		t.Errorf("/init mtime %d with SOURCE_DATE_EPOCH=%d", rec.MTime, epoch+1)
	}
	if efi, err := os.ReadFile(three.UKI); err != nil {
		t.Fatal(err)
	} else if b, err := uki.ReadSection(bytes.NewReader(efi), uki.Ucode); err == nil {
		t.Errorf("an unsigned UKI: a .ucode section of %d bytes", len(b))
	}
}

func ukiSection(t *testing.T, file, name string) []byte {
	t.Helper()
	efi, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b, err := uki.ReadSection(bytes.NewReader(efi), name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// firstIntelUpdate is the platform's first Intel microcode file by name.
func firstIntelUpdate(t *testing.T, root string) []byte {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(root, "lib/firmware/intel-ucode"))
	if err != nil || len(des) == 0 {
		t.Fatalf("the platform's intel-ucode: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(root, "lib/firmware/intel-ucode", des[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
