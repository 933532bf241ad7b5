package image

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Host paths of Debian's QEMU (packages qemu-system-x86 and qemu-utils).
// The image keeps them at the same paths: QEMU finds its modules and
// firmware relative to its own executable, so the layout must not move.
var (
	DefaultQEMU    = "/usr/bin/qemu-system-x86_64"
	DefaultQemuImg = "/usr/bin/qemu-img"
)

// qemuModuleDir is where Debian's QEMU dlopens its modules from, relative
// to the directory of its executable.
const qemuModuleDir = "../lib/x86_64-linux-gnu/qemu"

// qemuModules are the dlopen'ed modules an x86 guest needs: ldd does not
// see them, and without the TCG module QEMU refuses -accel tcg (it is the
// only accelerator on a box whose KVM does not work). Display, audio,
// USB-passthrough and SPICE modules are left out: nucbox guests use VNC,
// which is built in.
var qemuModules = []string{"accel-tcg-x86_64.so"}

// qemuFirmware are the firmware files an x86 guest of vmm's command line
// may load, by base name, from the directories QEMU searches. What QEMU
// ships beyond them is for devices vmm never creates, and each costs the
// compressed image what it weighs (an iPXE ROM is already compressed):
//   - SeaBIOS and the machine's other BIOSes (the config may name any
//     machine type), and the option ROMs of -kernel boots (linuxboot,
//     multiboot, pvh) and of KVM's APIC (kvmvapic);
//   - one VGA BIOS: a VNC guest gets "-device VGA" (vgabios-stdvga.bin),
//     never the cirrus, qxl, vmware, virtio, ati, bochs or ramfb cards;
//   - one network ROM: every NIC is a virtio-net-pci, whose ROM
//     (efi-virtio.rom, pxe-virtio.rom in older layouts) only a NIC with a
//     boot index loads (others get romfile=); the e1000, rtl8139, pcnet,
//     ne2k, eepro100 and vmxnet3 ROMs are never loaded;
//   - not sgabios.bin, the ROM of "-device sga", which vmm does not use.
//
// TestFirmwareCoversCmdline asks the host's QEMU which ROM each device of
// vmm's command line loads and fails when one is not kept here.
var qemuFirmware = []string{
	"bios*.bin", "qboot.rom", "kvmvapic.bin", "linuxboot*.bin", "multiboot*.bin",
	"pvh.bin", "vgabios-stdvga.bin", "efi-virtio.rom", "pxe-virtio.rom",
	// VNC loads the default keyboard layout even when -k is not given.
	"keymaps/en-us",
}

// qemuSet is what the image needs to run QEMU guests.
type qemuSet struct {
	binaries []string          // executables and modules, added with their libraries
	files    map[string]string // image path -> host file (firmware)
	version  string
}

// debianDataDirs are the firmware directories Debian 12's QEMU names
// with -L help, relative to its executable; a platform's QEMU is not run
// to ask.
var debianDataDirs = []string{"../share/qemu", "../share/seabios", "../lib/ipxe/qemu"}

// findQEMU collects the QEMU binary, qemu-img, the accelerator module
// and the x86 firmware from the host, or from the root r.
func findQEMU(ctx context.Context, r sysroot, qemu, qemuImg string) (*qemuSet, error) {
	for _, b := range []string{qemu, qemuImg} {
		h, err := r.host(b)
		if err != nil {
			return nil, fmt.Errorf("QEMU for the config's VMs: %w (install qemu-system-x86 and qemu-utils)", err)
		}
		if fi, err := os.Stat(h); err != nil {
			return nil, fmt.Errorf("QEMU for the config's VMs: %w (install qemu-system-x86 and qemu-utils)", err)
		} else if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("QEMU for the config's VMs: %s is not a file", b)
		}
	}
	s := &qemuSet{binaries: []string{qemu, qemuImg}, files: map[string]string{}}
	bindir := filepath.Dir(qemu)
	modDir := filepath.Join(bindir, qemuModuleDir)
	if r.exists(modDir) {
		for _, m := range qemuModules {
			p := filepath.Join(modDir, m)
			if !r.exists(p) {
				return nil, fmt.Errorf("QEMU module %s is missing (QEMU loads it for -accel tcg)", p)
			}
			s.binaries = append(s.binaries, p)
		}
	}
	// A QEMU without a module directory was built with everything inside.

	var dirs []string
	if r == "" {
		s.version = qemuVersion(ctx, qemu)
		var err error
		if dirs, err = qemuDataDirs(ctx, qemu); err != nil {
			return nil, err
		}
	} else {
		for _, d := range debianDataDirs {
			dirs = append(dirs, filepath.Join(bindir, d))
		}
	}
	for _, d := range dirs {
		if err := addFirmware(r, s.files, d); err != nil {
			return nil, err
		}
	}
	if len(s.files) == 0 {
		return nil, fmt.Errorf("no x86 firmware found in %s (install seabios and ipxe-qemu)", strings.Join(dirs, ", "))
	}
	return s, nil
}

// qemuDataDirs asks QEMU where it looks for firmware (-L help). Debian's
// answer differs between releases (/usr/share/qemu alone, or with
// /usr/share/seabios and /usr/lib/ipxe/qemu); the paths are relative to
// the executable, which the image keeps where it was.
func qemuDataDirs(ctx context.Context, qemu string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, qemu, "-L", "help").Output()
	if err != nil {
		return []string{filepath.Join(filepath.Dir(qemu), "../share/qemu")}, nil
	}
	var dirs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		d := strings.TrimSpace(sc.Text())
		if d == "" || !filepath.IsAbs(d) {
			continue
		}
		dirs = append(dirs, filepath.Clean(d))
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%s -L help named no firmware directory", qemu)
	}
	return dirs, nil
}

func qemuVersion(ctx context.Context, qemu string) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, qemu, "--version").Output()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimPrefix(strings.TrimSpace(line), "QEMU emulator version ")
}

// addFirmware adds the x86 firmware of dir to files. Links are followed
// when the image is written (Debian's firmware directories link into
// other packages); a link whose target is not installed is skipped, as
// QEMU itself would not find it either.
func addFirmware(r sysroot, files map[string]string, dir string) error {
	hostDir, err := r.host(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, pat := range qemuFirmware {
		matches, err := filepath.Glob(filepath.Join(hostDir, pat))
		if err != nil {
			return err
		}
		for _, m := range matches {
			rel, err := filepath.Rel(hostDir, m)
			if err != nil {
				return err
			}
			name := filepath.Join(dir, rel)
			host, err := r.host(name)
			if err != nil {
				continue // a link to a package that is not there
			}
			fi, err := os.Stat(host)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			// The first directory QEMU searches wins, as in QEMU.
			if _, dup := files[name]; !dup {
				files[name] = host
			}
		}
	}
	return nil
}

// addQEMU adds s to the tree; it returns how many libraries and firmware
// files came along.
func (t *tree) addQEMU(r sysroot, s *qemuSet) (libs, firmware int, err error) {
	for _, b := range s.binaries {
		n, err := t.addRootBinary(r, b, 0, "QEMU "+path.Base(b))
		if err != nil {
			return 0, 0, err
		}
		libs += n
	}
	names := make([]string, 0, len(s.files))
	for n := range s.files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := t.hostFile(n, s.files[n], 0o644, "QEMU firmware"); err != nil {
			return 0, 0, err
		}
		firmware++
	}
	return libs, firmware, nil
}
