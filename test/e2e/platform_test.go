package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/image/platform"
	"github.com/nucbox/nucbox/test/ci"
	"github.com/nucbox/nucbox/test/harness"
)

// hiddenDirs and hiddenFiles are what an image build took from the host
// before the pinned platform: the kernel and its modules, QEMU with its
// modules and firmware, systemd-boot, busybox and e2fsprogs. The test
// binds empty ones over them.
var (
	hiddenDirs = []string{"/boot", "/lib/modules", "/usr/lib/x86_64-linux-gnu/qemu", "/usr/share/qemu",
		"/usr/share/seabios", "/usr/lib/ipxe", "/usr/lib/systemd/boot"}
	hiddenFiles = []string{"/bin/busybox", "/sbin/mke2fs", "/sbin/e2fsck", "/sbin/resize2fs",
		"/etc/mke2fs.conf", "/usr/bin/qemu-system-x86_64", "/usr/bin/qemu-img"}
)

// hideScript runs its arguments as user nobody in a mount namespace where
// hiddenDirs and hiddenFiles are empty.
const hideScript = `set -eu
empty=$1; emptyfile=$2; shift 2
for d in ` + "$HIDE_DIRS" + `; do [ -d "$d" ] && mount --bind "$empty" "$d"; done
for f in ` + "$HIDE_FILES" + `; do [ -e "$f" ] && mount --bind "$emptyfile" "$f"; done
[ -z "$(ls -A /lib/modules)" ] && [ ! -s /bin/busybox ] || { echo "host files still visible" >&2; exit 99; }
exec setpriv --reuid=65534 --regid=65534 --clear-groups -- sh -c 'echo "building as uid $(id -u)"; exec "$@"' sh "$@"
`

// TestPlatformImageHiddenHost builds examples/basic.yaml with QEMU as an
// unprivileged user with the host's kernel, modules, QEMU, busybox and
// e2fsprogs hidden, so that everything must come from the pinned
// platform, boots it to ready and runs the platform's QEMU and mke2fs
// in it. Control: in the same namespace a
// build that asks for the host's kernel fails. One boot, about 20 s
// (plus about 15 s once per machine to fetch and unpack the platform,
// which make platform does before the suite).
func TestPlatformImageHiddenHost(t *testing.T) {
	harness.Require(t)
	for _, tool := range []string{"unshare", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			ci.Missing(t, "%s (util-linux, make deps installs it)", tool)
		}
	}
	start := time.Now()
	cache := harness.CacheDir(t, "platform")
	root, err := platform.Ensure(context.Background(), platform.Options{Cache: cache})
	if err != nil {
		ci.Missing(t, "the pinned platform: %v (make platform fetches it)", err)
	}
	if root.Fetched > 0 {
		t.Logf("fetched and unpacked the pinned platform in %.1fs", time.Since(start).Seconds())
	}

	// A world-readable work directory: the build runs as nobody.
	work := t.TempDir()
	for _, d := range []string{filepath.Dir(work), work} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(work, "nucbox")
	data, err := os.ReadFile(harness.Nucbox(t))
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := harness.RepoRoot()
	cfg, err := os.ReadFile(filepath.Join(repo, basicConfig))
	if err != nil {
		t.Fatal(err)
	}
	empty, emptyFile, out := filepath.Join(work, "empty"), filepath.Join(work, "empty-file"), filepath.Join(work, "out")
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{bin, data, 0o755}, {filepath.Join(work, "basic.yaml"), cfg, 0o644}, {emptyFile, nil, 0o644}} {
		if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(out, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(out, 0o777); err != nil {
		t.Fatal(err)
	}
	hidden := func(args ...string) (string, error) {
		cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", hideScript, "sh", empty, emptyFile, bin}, args...)...)
		cmd.Env = append(os.Environ(), "HIDE_DIRS="+strings.Join(hiddenDirs, " "), "HIDE_FILES="+strings.Join(hiddenFiles, " "), "HOME=/nonexistent")
		o, err := cmd.CombinedOutput()
		return string(o), err
	}
	k, _ := harness.DebianKernel()
	base := []string{"image", "build", "--config", filepath.Join(work, "basic.yaml"), "--qemu", "--cache", cache}

	// Control: the host's kernel is not there to be used.
	log, err := hidden(append(base[:len(base)-2], "--kernel", k.Path, "-o", filepath.Join(out, "host"))...)
	if err == nil || !strings.Contains(log, k.Version) {
		t.Fatalf("building with the hidden host kernel %s: %v\n%s", k.Path, err, log)
	}

	buildStart := time.Now()
	log, err = hidden(append(base, "-o", filepath.Join(out, "platform"))...)
	if err != nil {
		t.Fatalf("build from the pinned platform with the host hidden: %v\n%s", err, log)
	}
	t.Logf("built in %.1fs as nobody with the host's files hidden:\n%s", time.Since(buildStart).Seconds(), log)
	for _, w := range []string{"building as uid 65534", "/boot/vmlinuz-" + root.Lock.Kernel, "busybox /bin/busybox (platform)"} {
		if !strings.Contains(log, w) {
			t.Errorf("build output lacks %q", w)
		}
	}
	if strings.Contains(log, "platform: fetching") {
		t.Error("the build fetched packages although the cache was warm")
	}

	img := &harness.Image{
		Dir:       filepath.Join(out, "platform"),
		Kernel:    filepath.Join(out, "platform", "vmlinuz"),
		Initramfs: filepath.Join(out, "platform", "initramfs.cpio.zst"),
	}
	bootStart := time.Now()
	m := img.Boot(t, harness.Options{NICs: uplink()})
	ri := m.ExpectReady(readyTimeout)
	t.Logf("platform image ready in %.1fs: %s", time.Since(bootStart).Seconds(), ri.Line)
	if ri.Hostname == "" {
		t.Errorf("ready summary without a hostname: %s", ri.Line)
	}
	// The platform's QEMU runs in the box: its libraries were found from
	// ELF headers inside the platform, not by the host's loader, and
	// mke2fs with e2fsprogs' own libraries likewise.
	if _, err := m.Expect(shellTimeout, `press Enter for a shell`); err != nil {
		t.Fatal(err)
	}
	if err := m.Send("\n"); err != nil {
		t.Fatal(err)
	}
	sh, err := m.Shell(shellTimeout, "/usr/bin/qemu-system-x86_64 --version && /usr/bin/qemu-img --version && /sbin/mke2fs -V 2>&1")
	if err != nil {
		t.Fatalf("platform QEMU and mke2fs in the box: %v\n%s", err, sh)
	}
	for _, w := range []string{"QEMU emulator version 7.2", "qemu-img version 7.2", "mke2fs 1.47"} {
		if !strings.Contains(sh, w) {
			t.Errorf("the box's shell printed no %q:\n%s", w, sh)
		}
	}
}
