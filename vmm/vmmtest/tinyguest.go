package vmmtest

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/nucbox/nucbox/test/ci"
)

// The host tier's guest: Debian's kernel and an initramfs built here from
// the host's static busybox. Its init prints GuestUp once it is ready for
// the power button, and powers off when the button is pressed, unless the
// kernel command line holds nucbox.test=ignore (a guest that ignores
// ACPI, for the quit path).
const (
	GuestUp       = "NUCBOX-TINY-GUEST-UP"
	GuestPowerOff = "NUCBOX-TINY-GUEST-POWEROFF"
	GuestAppend   = "console=ttyS0 quiet panic=-1"
)

// The init opens the power button's event device before announcing
// itself: the kernel only queues input events for readers that already
// have the device open, so a powerdown right after the marker would
// otherwise be lost.
const tinyInit = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
if grep -q nucbox.test=ignore /proc/cmdline; then
	echo "` + GuestUp + ` (ignoring the power button)"
	while :; do sleep 3600; done
fi
insmod /lib/evdev.ko
insmod /lib/button.ko
btn=
for d in /sys/class/input/event*; do
	grep -q "Power Button" "$d/device/name" 2>/dev/null && btn=/dev/input/${d##*/}
done
if [ -z "$btn" ]; then
	echo "NUCBOX-TINY-GUEST-ERROR no power button"
	while :; do sleep 3600; done
fi
exec 3<"$btn"
echo "` + GuestUp + ` (power button $btn)"
dd bs=24 count=1 <&3 >/dev/null 2>&1
echo ` + GuestPowerOff + `
poweroff -f
`

// HostTier skips a host-tier test when the host lacks what it needs
// (QEMU, qemu-img, Debian's kernel, a static busybox, root when needRoot),
// or fails it under CI, where a missing package is a broken setup.
func HostTier(t testing.TB, needRoot bool) {
	t.Helper()
	missing := func(format string, a ...any) {
		t.Helper()
		ci.Missing(t, "host tier: "+format+" (make deps installs it)", a...)
	}
	ci.ShortMode(t, "host tier")
	if needRoot && os.Geteuid() != 0 {
		missing("needs root")
	}
	for _, bin := range []string{"qemu-system-x86_64", "qemu-img"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing("%s not found (Debian packages qemu-system-x86, qemu-utils)", bin)
		}
	}
	if _, _, err := DebianKernel(); err != nil {
		missing("%v", err)
	}
	if err := staticBusybox("/bin/busybox"); err != nil {
		missing("%v", err)
	}
}

// DebianKernel returns the newest /boot/vmlinuz-*-amd64 and its modules
// directory.
func DebianKernel() (kernel, modules string, err error) {
	ks, _ := filepath.Glob("/boot/vmlinuz-*-amd64")
	sort.Strings(ks)
	for i := len(ks) - 1; i >= 0; i-- {
		ver := strings.TrimPrefix(filepath.Base(ks[i]), "vmlinuz-")
		mods := filepath.Join("/lib/modules", ver)
		if _, err := os.Stat(filepath.Join(mods, "kernel/drivers/acpi/button.ko")); err == nil {
			return ks[i], mods, nil
		}
	}
	return "", "", os.ErrNotExist
}

func staticBusybox(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return os.ErrInvalid // dynamically linked: useless without a libc
		}
	}
	return nil
}

// BuildTinyInitramfs writes the guest's initramfs into dir.
func BuildTinyInitramfs(t testing.TB, dir string) string {
	t.Helper()
	_, mods, err := DebianKernel()
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	recs := []cpio.Record{
		cpio.Directory("dev", 0o755),
		cpio.CharDev("dev/console", 0o600, 5, 1),
		cpio.Directory("proc", 0o755),
		cpio.Directory("sys", 0o755),
		cpio.StaticFile("bin/busybox", read("/bin/busybox"), 0o755),
		cpio.StaticFile("lib/button.ko", read(filepath.Join(mods, "kernel/drivers/acpi/button.ko")), 0o644),
		cpio.StaticFile("lib/evdev.ko", read(filepath.Join(mods, "kernel/drivers/input/evdev.ko")), 0o644),
		cpio.StaticFile("init", tinyInit, 0o755),
	}
	return WriteInitramfs(t, filepath.Join(dir, "initramfs.cpio"), recs)
}

// WriteInitramfs writes recs as a newc archive, the format the kernel
// unpacks, to path and returns path.
func WriteInitramfs(t testing.TB, path string, recs []cpio.Record) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := cpio.NewDedupWriter(cpio.Newc.Writer(f))
	if err := cpio.WriteRecordsAndDirs(w, recs); err != nil {
		t.Fatal(err)
	}
	if err := cpio.WriteTrailer(w); err != nil {
		t.Fatal(err)
	}
	return path
}
