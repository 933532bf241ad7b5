package datapart

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nucbox/nucbox/test/ci"
)

func requireMke2fs(t *testing.T) string {
	t.Helper()
	const p = "/sbin/mke2fs"
	if _, err := os.Stat(p); err != nil {
		ci.Missing(t, "%s missing (install e2fsprogs, part of make deps)", p)
	}
	return p
}

// TestSuperblock reads superblocks mke2fs wrote into image files, so the
// offsets are checked against the real format rather than against
// constants copied into the test.
func TestSuperblock(t *testing.T) {
	requireMke2fs(t)
	ctx := context.Background()
	for _, size := range []int64{8 * mib, 200 * mib} {
		img := filepath.Join(t.TempDir(), "fs.img")
		if err := os.WriteFile(img, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(img, size); err != nil {
			t.Fatal(err)
		}
		if sb, err := readSuperblock(img); err != nil || sb != nil {
			t.Fatalf("zeroed image: superblock %+v, %v", sb, err)
		}
		o := Options{}
		o.defaults()
		if err := mkfs(ctx, &o, img); err != nil {
			t.Fatal(err)
		}
		sb, err := readSuperblock(img)
		if err != nil || sb == nil {
			t.Fatalf("after mke2fs: %+v, %v", sb, err)
		}
		if sb.label != DataName || sb.size != size {
			t.Errorf("superblock = %s labelled %q, want %s labelled %q", human(sb.size), sb.label, human(size), DataName)
		}
		verdict, err := fsck(ctx, &o, img, true)
		if err != nil || verdict != "clean" {
			t.Errorf("e2fsck -f of a new filesystem: %q, %v", verdict, err)
		}
	}

	b := make([]byte, 1024)
	binary.LittleEndian.PutUint16(b[0x38:], ext4Magic)
	binary.LittleEndian.PutUint32(b[0x18:], 30)
	if sb := parseSuperblock(b); sb != nil {
		t.Errorf("magic with an impossible block size parsed as %+v", sb)
	}
	binary.LittleEndian.PutUint32(b[0x18:], 2) // 4 KiB blocks
	binary.LittleEndian.PutUint32(b[0x4:], 1)
	binary.LittleEndian.PutUint32(b[0x150:], 1)
	if sb := parseSuperblock(b); sb == nil || sb.size != 4096 {
		t.Errorf("32-bit filesystem: %+v, want 4 KiB (high block count ignored)", sb)
	}
	binary.LittleEndian.PutUint32(b[0x60:], incompat64)
	if sb := parseSuperblock(b); sb == nil || sb.size != (1<<32+1)*4096 {
		t.Errorf("64-bit filesystem: %+v", sb)
	}
}

// TestFsckExitCodes maps e2fsck's exit codes (see e2fsck(8)): below 4 the
// filesystem is usable, from 4 on it must not be mounted.
func TestFsckExitCodes(t *testing.T) {
	for _, c := range []struct {
		code    int
		verdict string
		fail    bool
	}{
		{0, "clean", false},
		{1, "errors corrected", false},
		{2, "errors corrected, reboot advised", false},
		{4, "errors left uncorrected", true},
		{5, "errors left uncorrected", true},
		{8, "failed (exit 8)", true},
		{12, "errors left uncorrected", true},
		{32, "failed (exit 32)", true},
	} {
		var logged []string
		o := Options{E2fsck: fakeFsck(t, c.code, "output"), Logf: func(f string, a ...any) {
			logged = append(logged, f)
		}}
		o.defaults()
		verdict, err := fsck(context.Background(), &o, "/dev/null", false)
		if verdict != c.verdict || (err != nil) != c.fail {
			t.Errorf("exit %d: verdict %q, error %v; want %q, failure %v", c.code, verdict, err, c.verdict, c.fail)
		}
		if len(logged) == 0 {
			t.Errorf("exit %d: e2fsck's output was not logged", c.code)
		}
	}
	o := Options{E2fsck: "/nonexistent/e2fsck"}
	o.defaults()
	if _, err := fsck(context.Background(), &o, "/dev/null", false); err == nil {
		t.Error("missing e2fsck not reported")
	}
	o.Mke2fs = "/bin/false"
	if err := mkfs(context.Background(), &o, "/dev/null"); err == nil {
		t.Error("failing mke2fs not reported")
	}
}

func TestSetupWithoutDisks(t *testing.T) {
	mp := filepath.Join(t.TempDir(), "mnt")
	_, err := Setup(context.Background(), Options{MountPoint: mp, SysBlock: t.TempDir()})
	if !errors.Is(err, ErrNoDisk) {
		t.Errorf("Setup with no disks: %v, want ErrNoDisk", err)
	}
	_, err = Setup(context.Background(), Options{MountPoint: mp, SysBlock: "/nonexistent"})
	if err == nil || errors.Is(err, ErrNoDisk) {
		t.Errorf("Setup with no sysfs: %v, want an error that is not ErrNoDisk", err)
	}
	if _, err := Setup(context.Background(), Options{}); err == nil {
		t.Error("Setup without a mount point succeeded")
	}
	if _, err := os.Stat(mp); err == nil {
		t.Error("mount point created")
	}
}

// fakeFsck is an e2fsck that prints msg and exits with code.
func fakeFsck(t *testing.T, code int, msg string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "e2fsck")
	script := "#!/bin/sh\necho '" + msg + "'\nexit " + strconv.Itoa(code) + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("/bin/sh"); err != nil {
		ci.Missing(t, "no /bin/sh for the fake e2fsck")
	}
	return p
}
