package image

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"
	"github.com/u-root/u-root/pkg/ldd"

	"github.com/nucbox/nucbox/test/ci"
)

const vmConfig = `hostname: testbox
uplink:
  interface: auto
vms:
  - name: tiny
    memory: 128MiB
    kernel: images/vmlinuz
    initrd: images/tiny.cpio.gz
`

// vmBaked is vmConfig as the command line hands it to the builder
// (cmd/nucbox's bakedConfig, whose test checks these values).
func vmBaked(t *testing.T) *Baked {
	return &Baked{Path: writeVMConfig(t), VMs: 1, GuestFiles: []GuestFile{
		{VM: "tiny", What: "kernel", Path: "/var/lib/nucbox/images/vmlinuz"},
		{VM: "tiny", What: "initrd", Path: "/var/lib/nucbox/images/tiny.cpio.gz"},
	}}
}

func writeVMConfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vms.yaml")
	if err := os.WriteFile(p, []byte(vmConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeQEMU lays out a QEMU installation the way Debian does, with a shell
// script that answers -L help, firmware links into a sibling directory,
// firmware of other architectures, and a dangling link.
func fakeQEMU(t *testing.T) (root, qemu, qemuImg string) {
	t.Helper()
	root = t.TempDir()
	write := func(name, content string, perm os.FileMode) {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), perm); err != nil {
			t.Fatal(err)
		}
	}
	link := func(name, target string) {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	write("usr/bin/qemu-system-x86_64", "#!/bin/sh\n"+
		"case \"$1\" in --version) echo 'QEMU emulator version 9.9.9';; -L) echo "+root+"/usr/bin/../share/qemu;; esac\n", 0o755)
	write("usr/bin/qemu-img", "#!/bin/sh\n", 0o755)
	write("usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so", "tcg module", 0o644)
	write("usr/lib/x86_64-linux-gnu/qemu/ui-gtk.so", "not wanted", 0o644)
	write("usr/share/seabios/bios-256k.bin", "seabios", 0o644)
	write("usr/share/qemu/kvmvapic.bin", "vapic", 0o644)
	write("usr/share/qemu/linuxboot_dma.bin", "linuxboot", 0o644)
	write("usr/share/qemu/openbios-ppc", "ppc", 0o644)
	write("usr/share/qemu/keymaps/en-us", "keymap", 0o644)
	write("usr/share/qemu/keymaps/de", "not wanted", 0o644)
	link("usr/share/qemu/bios-256k.bin", "../seabios/bios-256k.bin")
	link("usr/share/qemu/efi-virtio.rom", "../ipxe/missing.rom")
	return root, filepath.Join(root, "usr/bin/qemu-system-x86_64"), filepath.Join(root, "usr/bin/qemu-img")
}

func TestBuildQEMUFakeLayout(t *testing.T) {
	root, qemu, qemuImg := fakeQEMU(t)
	o := fixtureOptions(t)
	o.Config = vmBaked(t)
	o.QEMUBinary, o.QemuImg = qemu, qemuImg
	// The guest's kernel is baked in under the state directory, its
	// initrd is not.
	o.Files = map[string]string{"/var/lib/nucbox/images/vmlinuz": qemuImg}
	var log strings.Builder
	o.Progress = &log
	res, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	a := readArchive(t, res.Initramfs)
	a.checkRecords(t)
	a.get(t, "var/lib/nucbox/images/vmlinuz")
	if !strings.Contains(log.String(), "note: vm tiny: initrd /var/lib/nucbox/images/tiny.cpio.gz is not in the image") {
		t.Errorf("progress does not note the missing initrd:\n%s", log.String())
	}
	if strings.Contains(log.String(), "kernel /var/lib/nucbox/images/vmlinuz is not") {
		t.Errorf("progress notes the kernel that is in the image:\n%s", log.String())
	}
	in := func(p string) string { return strings.TrimPrefix(filepath.Join(root, p), "/") }
	for name, want := range map[string]string{
		"usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so": "tcg module",
		"usr/share/qemu/bios-256k.bin":                      "seabios",
		"usr/share/qemu/kvmvapic.bin":                       "vapic",
		"usr/share/qemu/linuxboot_dma.bin":                  "linuxboot",
		"usr/share/qemu/keymaps/en-us":                      "keymap",
	} {
		r := a.get(t, in(name))
		if r.Mode&cpio.S_IFMT != cpio.S_IFREG {
			t.Errorf("/%s has mode %#o, want a regular file (links are copied as their targets)", in(name), r.Mode)
			continue
		}
		if got := a.content(t, in(name)); got != want {
			t.Errorf("/%s = %q, want %q", in(name), got, want)
		}
	}
	for _, name := range []string{"usr/bin/qemu-system-x86_64", "usr/bin/qemu-img"} {
		if r := a.get(t, in(name)); r.Mode&0o111 == 0 {
			t.Errorf("/%s is not executable: %#o", in(name), r.Mode)
		}
	}
	for _, name := range []string{
		"usr/share/qemu/openbios-ppc", "usr/share/qemu/keymaps/de",
		"usr/lib/x86_64-linux-gnu/qemu/ui-gtk.so", "usr/share/qemu/efi-virtio.rom",
	} {
		if _, ok := a.recs[in(name)]; ok {
			t.Errorf("/%s is in the image; it is not needed by x86 guests or does not exist", in(name))
		}
	}
	if !strings.Contains(log.String(), "QEMU 9.9.9 (1 VMs in the config)") {
		t.Errorf("progress does not report QEMU:\n%s", log.String())
	}
}

func TestBuildQEMUOnlyWhenNeeded(t *testing.T) {
	_, qemu, qemuImg := fakeQEMU(t)
	for _, tc := range []struct {
		name   string
		vms    bool
		force  bool
		wantIn bool
	}{
		{"no VMs", false, false, false},
		{"VMs", true, false, true},
		{"forced", false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := fixtureOptions(t)
			if tc.vms {
				o.Config = vmBaked(t)
			}
			o.QEMU = tc.force
			o.QEMUBinary, o.QemuImg = qemu, qemuImg
			res, err := Build(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			a := readArchive(t, res.Initramfs)
			_, in := a.recs[strings.TrimPrefix(qemu, "/")]
			if in != tc.wantIn {
				t.Errorf("QEMU in the image = %v, want %v", in, tc.wantIn)
			}
		})
	}
}

func TestBuildQEMUMissing(t *testing.T) {
	root, qemu, qemuImg := fakeQEMU(t)
	if err := os.Remove(filepath.Join(root, "usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so")); err != nil {
		t.Fatal(err)
	}
	o := fixtureOptions(t)
	o.Config = vmBaked(t)
	o.QEMUBinary, o.QemuImg = qemu, qemuImg
	if _, err := Build(context.Background(), o); err == nil || !strings.Contains(err.Error(), "accel-tcg-x86_64.so") {
		t.Errorf("build without the TCG module: err = %v, want it named", err)
	}
	o.QEMUBinary = filepath.Join(root, "nowhere")
	if _, err := Build(context.Background(), o); err == nil || !strings.Contains(err.Error(), "qemu-system-x86") {
		t.Errorf("build without QEMU: err = %v, want the package named", err)
	}
}

// TestBuildDebianQEMU checks the real thing: everything Debian's QEMU
// loads for a guest is in the image, at the path QEMU looks for it, as a
// regular file.
func TestBuildDebianQEMU(t *testing.T) {
	if _, err := os.Stat(DefaultQEMU); err != nil {
		ci.Missing(t, "no QEMU: %v (apt-get install qemu-system-x86, part of make deps)", err)
	}
	o := fixtureOptions(t)
	o.Config = vmBaked(t)
	var log strings.Builder
	o.Progress = &log
	res, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", log.String())
	a := readArchive(t, res.Initramfs)
	a.checkRecords(t)

	want := []string{
		"usr/bin/qemu-system-x86_64", "usr/bin/qemu-img",
		"usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so",
	}
	dirs, err := qemuDataDirs(context.Background(), DefaultQEMU)
	if err != nil {
		t.Fatal(err)
	}
	// The files QEMU opened for a q35 TCG guest with a -kernel boot, a
	// virtio NIC and VNC (measured with strace).
	for _, fw := range []string{"bios-256k.bin", "kvmvapic.bin", "linuxboot_dma.bin", "efi-virtio.rom", "vgabios-stdvga.bin", "keymaps/en-us"} {
		found := ""
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d, fw)); err == nil {
				found = filepath.Join(d, fw)
				break
			}
		}
		if found == "" {
			t.Errorf("host has no %s in %v", fw, dirs)
			continue
		}
		want = append(want, strings.TrimPrefix(found, "/"))
	}
	for _, bin := range []string{DefaultQEMU, DefaultQemuImg, "/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so"} {
		libs, err := ldd.FList(bin)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range libs {
			want = append(want, strings.TrimPrefix(l, "/"))
		}
	}
	for _, n := range want {
		r := a.resolve(t, n)
		if r.Mode&cpio.S_IFMT != cpio.S_IFREG {
			t.Errorf("/%s resolves to mode %#o, want a regular file", n, r.Mode)
		}
	}
	for _, n := range a.order {
		if strings.HasPrefix(n, "usr/share/") && a.recs[n].Mode&cpio.S_IFMT == cpio.S_IFLNK {
			t.Errorf("/%s is a symlink; firmware must be copied as its target", n)
		}
	}
}
