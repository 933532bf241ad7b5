package image

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/nucbox/nucbox/image/disk"
	"github.com/nucbox/nucbox/image/esp"
	"github.com/nucbox/nucbox/image/pxe"
	"github.com/nucbox/nucbox/image/uki"
)

// DefaultCmdline is the kernel command line of UKIs, disk images and PXE
// bundles. Kernel messages go to both the screen and the first serial
// port; the last console= is /dev/console, where PID 1 writes, and serial
// is last so that a headless box, QEMU and the tests see the box's own
// log (on a machine without a serial port the kernel falls back to the
// screen). panic=10 reboots a panicking box instead of leaving it hung in
// a rack.
const DefaultCmdline = "console=tty0 console=ttyS0,115200 panic=10"

// Debian's systemd-boot-efi files.
const (
	DefaultStub       = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"
	DefaultBootLoader = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi"
)

// Output names in OutDir.
const (
	UKIName  = "nucbox.efi"
	DiskName = "nucbox.img"
	PXEDir   = "pxe"
)

// DefaultFSTools are the e2fsprogs programs the box formats, checks and
// grows its data partition with, at Debian's paths. mke2fs.conf comes
// along when the host has it, so that a new file system gets Debian's
// ext4 defaults.
var DefaultFSTools = []string{"/sbin/mke2fs", "/sbin/e2fsck", "/sbin/resize2fs"}

const mke2fsConf = "/etc/mke2fs.conf"

// wantsMedia reports whether any output beyond kernel and initramfs was
// asked for.
func (o Options) wantsMedia() bool { return o.UKI || o.DiskSize > 0 || o.PXE }

func (o Options) cmdline() string {
	if o.Cmdline != "" {
		return strings.Join(strings.Fields(o.Cmdline), " ")
	}
	return DefaultCmdline
}

// checkMedia rejects bad media options before the long part of a build.
func (o Options) checkMedia() error {
	if o.DiskSize > 0 {
		if _, err := disk.Plan(o.DiskSize, o.ESPSize); err != nil {
			return err
		}
	}
	if o.PXE {
		if err := (pxe.Script{Cmdline: o.cmdline(), ConfigURL: o.ConfigURL}).Validate(); err != nil {
			return fmt.Errorf("PXE: %w", err)
		}
	}
	if (o.UKI || o.DiskSize > 0) && strings.ContainsAny(o.Cmdline, "\n\r") {
		return fmt.Errorf("kernel command line spans lines")
	}
	if o.ImageVersion < 0 {
		return fmt.Errorf("image version %d: want 1 or more", o.ImageVersion)
	}
	if _, err := o.loadSigning(); err != nil {
		return err
	}
	return o.CheckConfigSource()
}

// buildMedia writes the UKI, disk image and PXE bundle as pending files
// from the kernel and initramfs just written, and returns them with their
// final paths.
func buildMedia(o Options, p *progress, kernelFile, initrdFile, kver string, res *Result) (_ []*pendingOutput, err error) {
	var outs []*pendingOutput
	defer func() {
		if err != nil {
			for _, out := range outs {
				out.discard()
			}
		}
	}()
	sig, err := o.loadSigning()
	if err != nil {
		return nil, err
	}
	var image []byte
	if o.UKI || o.DiskSize > 0 {
		image, err = buildUKI(o, sig, kernelFile, initrdFile, kver)
		if err != nil {
			return nil, err
		}
		res.UKIBytes = int64(len(image))
	}
	if o.UKI {
		out, err := pendingBytes(o.OutDir, UKIName, image)
		if err != nil {
			return nil, err
		}
		outs = append(outs, out)
		res.UKI = out.dst
		p.step("uki", "%s: %s, command line %q%s", UKIName, size(int64(len(image))), o.cmdline(), sig.note())
	}
	if o.DiskSize > 0 {
		out, err := buildDisk(o, sig, image)
		if err != nil {
			return nil, err
		}
		outs = append(outs, out)
		res.Disk = out.dst
		res.DiskBytes = o.DiskSize
		p.step("disk", "%s: %s, ESP %s with systemd-boot and %s, data partition unformatted",
			DiskName, size(o.DiskSize), size(espSize(o)), esp.SlotPath(esp.SlotA))
	}
	if o.PXE {
		dir := filepath.Join(o.OutDir, PXEDir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		script, err := pxe.Script{Cmdline: o.cmdline(), ConfigURL: o.ConfigURL}.Bytes()
		if err != nil {
			return nil, fmt.Errorf("PXE: %w", err)
		}
		for _, f := range []struct{ name, src string }{{pxe.KernelName, kernelFile}, {pxe.InitrdName, initrdFile}} {
			out, err := pendingCopy(dir, f.name, f.src)
			if err != nil {
				return nil, err
			}
			outs = append(outs, out)
		}
		out, err := pendingBytes(dir, pxe.ScriptName, script)
		if err != nil {
			return nil, err
		}
		outs = append(outs, out)
		res.PXEDir = dir
		url := o.ConfigURL
		if url == "" {
			url = "none (the baked-in config)"
		}
		p.step("pxe", "%s/{%s,%s,%s}, config %s", dir, pxe.KernelName, pxe.InitrdName, pxe.ScriptName, url)
	}
	return outs, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func espSize(o Options) int64 {
	if o.ESPSize > 0 {
		return o.ESPSize
	}
	return esp.DefaultESPSize
}

func buildUKI(o Options, sig *signing, kernelFile, initrdFile, kver string) ([]byte, error) {
	stubPath, err := o.from(o.Stub).host(orDefault(o.Stub, DefaultStub))
	if err != nil {
		return nil, fmt.Errorf("UKI stub %s: %w (install systemd-boot-efi or pass its path)", orDefault(o.Stub, DefaultStub), err)
	}
	stub, err := os.ReadFile(stubPath)
	if err != nil {
		return nil, fmt.Errorf("UKI stub: %w (install systemd-boot-efi or pass its path)", err)
	}
	kernel, err := os.ReadFile(kernelFile)
	if err != nil {
		return nil, err
	}
	initrd, err := os.ReadFile(initrdFile)
	if err != nil {
		return nil, err
	}
	version := o.Version
	if version == "" {
		version = "dev"
	}
	gen := o.ImageVersion
	if gen == 0 {
		gen = 1
	}
	img, err := uki.Build(stub, uki.Sections{
		OSRel:   uki.NewOSRelease(version, gen).Bytes(),
		Cmdline: []byte(o.cmdline()),
		Uname:   []byte(kver),
		Initrd:  initrd,
		Linux:   kernel,
		SBAT:    o.sbat(),
		Ucode:   sig.microcode,
	})
	if err != nil {
		return nil, fmt.Errorf("UKI from %s: %w", stubPath, err)
	}
	return sig.sign("the UKI", img)
}

func buildDisk(o Options, sig *signing, image []byte) (*pendingOutput, error) {
	loaderPath, err := o.from(o.BootLoader).host(orDefault(o.BootLoader, DefaultBootLoader))
	if err != nil {
		return nil, fmt.Errorf("boot loader %s: %w (install systemd-boot-efi or pass its path)", orDefault(o.BootLoader, DefaultBootLoader), err)
	}
	loader, err := os.ReadFile(loaderPath)
	if err != nil {
		return nil, fmt.Errorf("boot loader: %w (install systemd-boot-efi or pass its path)", err)
	}
	if loader, err = sig.sign("the boot loader "+loaderPath, loader); err != nil {
		return nil, err
	}
	files := map[string][]byte{
		esp.BootLoader:          loader,
		esp.LoaderConf:          esp.LoaderConfig(),
		esp.SlotPath(esp.SlotA): image,
	}
	if len(sig.enroll) > 0 {
		files[esp.LoaderConf] = esp.EnrollingLoaderConfig()
		for p, b := range sig.enroll {
			files[p] = b
		}
	}
	f, pend, err := createPending(o.OutDir, DiskName)
	if err != nil {
		return nil, err
	}
	out := &pendingOutput{pending: pend, dst: filepath.Join(o.OutDir, DiskName)}
	err = disk.WriteTo(f, disk.Options{
		Size:    o.DiskSize,
		ESPSize: o.ESPSize,
		Files:   files,
	})
	if err == nil {
		err = finish(f)
	} else {
		f.Close()
	}
	if err != nil {
		out.discard()
		return nil, fmt.Errorf("disk image: %w", err)
	}
	return out, nil
}

// pendingOutput is a pending file with the name it gets on commit.
type pendingOutput struct {
	*pending
	dst string
}

func pendingBytes(dir, name string, data []byte) (*pendingOutput, error) {
	return pendingFrom(dir, name, bytes.NewReader(data))
}

func pendingCopy(dir, name, src string) (*pendingOutput, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	return pendingFrom(dir, name, in)
}

// pendingFrom writes r to a pending output that appears as dir/name
// only when the whole build succeeds.
func pendingFrom(dir, name string, r io.Reader) (*pendingOutput, error) {
	f, pend, err := createPending(dir, name)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		pend.discard()
		return nil, err
	}
	if err := finish(f); err != nil {
		pend.discard()
		return nil, err
	}
	return &pendingOutput{pending: pend, dst: filepath.Join(dir, name)}, nil
}

// addFSTools adds the e2fsprogs programs with their libraries, and
// returns how many programs and libraries came along.
func addFSTools(t *tree, o Options) (bins, libs int, err error) {
	tools, r := o.FSTools, sysroot("")
	if tools == nil {
		tools, r = DefaultFSTools, sysroot(o.Root)
	}
	for _, b := range tools {
		if _, err := r.host(b); err != nil {
			return 0, 0, fmt.Errorf("%w (the box formats its data partition with e2fsprogs: install e2fsprogs)", err)
		}
		n, err := t.addRootBinary(r, b, 0, "file system tool "+rootNote(r, b))
		if err != nil {
			return 0, 0, err
		}
		libs += n
	}
	if len(tools) > 0 {
		if conf, err := r.host(mke2fsConf); err == nil {
			if err := t.hostFile(mke2fsConf, conf, 0o644, "mke2fs defaults"); err != nil {
				return 0, 0, err
			}
		}
	}
	return len(tools), libs, nil
}
