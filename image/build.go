package image

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nucbox/nucbox/internal/configsig"
	"github.com/nucbox/nucbox/internal/kmod"
)

// ConfigPath is where the config is baked into the initramfs; boot reads
// it when the kernel command line names no other source.
const ConfigPath = "/etc/nucbox/config.yaml"

// DefaultBusybox is the static busybox Debian's busybox-static installs.
const DefaultBusybox = "/bin/busybox"

// Options describe one image build.
type Options struct {
	// Config is the config baked in at ConfigPath, as the caller read
	// and checked it; nil means none: the box then needs one from the
	// kernel command line. The builder does not read configs itself.
	Config *Baked
	// ConfigKey is a public key file (configsig's PEM) baked in at
	// configsig.PublicKeyPath: the box then takes a config from a URL
	// only with a valid signature beside it, and over plain http too. A
	// private key is refused.
	ConfigKey string

	// Kernel is the kernel image, copied to OutDir/vmlinuz. An x86
	// bzImage is checked against the modules directory's release.
	Kernel string
	// ModulesDir is the kernel's /lib/modules/<release> directory.
	ModulesDir string
	// Modules are module names (or aliases) to include beyond
	// kmod.BaseModules, kmod.HardwareModules and the config's own
	// modules list.
	Modules []string

	// OutDir receives vmlinuz and the initramfs; it is created if needed.
	OutDir string
	// Init is the nucbox binary that becomes /init; default: the running
	// executable. It should be static; a dynamic one brings its libraries.
	Init string
	// Busybox is the busybox for the rescue shell; default DefaultBusybox.
	Busybox string
	// Binaries are host executables (or shared objects) added at their
	// own paths together with the shared libraries they load.
	Binaries []string
	// Files maps image paths to host files or directories. Symlinks are
	// followed: the image gets the targets' contents. Guest kernels,
	// initrds and base images for the config's VMs can be baked in this
	// way under the state directory (tests do; a real box keeps them on
	// its data partition).
	Files map[string]string
	// CACerts is the CA bundle the box checks registries and https config
	// servers against, installed where Go looks for it; default the
	// host's DefaultCACerts when it exists.
	CACerts string
	// QEMU adds QEMU even when the config has no VMs (a box whose VMs
	// come later through the API). A config with VMs always gets it.
	QEMU bool
	// QEMUBinary and QemuImg are the host's QEMU and qemu-img; default
	// DefaultQEMU and DefaultQemuImg.
	QEMUBinary, QemuImg string
	// Compression is Zstd (default) or Gzip.
	Compression string
	// FSTools are the file system programs added with their libraries;
	// nil means DefaultFSTools.
	FSTools []string

	// UKI writes OutDir/nucbox.efi, a unified kernel image of the kernel,
	// initramfs and command line on the systemd EFI stub.
	UKI bool
	// DiskSize, when not zero, writes OutDir/nucbox.img: a GPT disk of
	// this many bytes for a USB stick, booting the UKI through
	// systemd-boot.
	DiskSize int64
	// ESPSize is the disk image's ESP size; default esp.DefaultESPSize.
	ESPSize int64
	// PXE writes OutDir/pxe/ with the kernel, the initramfs and
	// boot.ipxe.
	PXE bool
	// ConfigURL is the PXE boot's nucbox.config= URL template, e.g.
	// http://10.0.0.1/configs/${mac}.yaml; empty boots the baked-in
	// config.
	ConfigURL string
	// Cmdline is the kernel command line of the UKI and PXE script;
	// default DefaultCmdline.
	Cmdline string
	// Version is the nucbox version recorded in the UKI's .osrel, and
	// ImageVersion its generation (default 1).
	Version      string
	ImageVersion int
	// Stub and BootLoader are systemd-boot-efi's files; default
	// DefaultStub and DefaultBootLoader.
	Stub, BootLoader string

	// Progress receives the step list, a progress bar when it is a
	// terminal, and the final sizes. Nil means quiet.
	Progress io.Writer
}

// Result describes a finished build.
type Result struct {
	Kernel    string // path of the copied kernel
	Initramfs string // path of the compressed initramfs
	// KernelVersion is the release read from the kernel image, or the
	// modules directory's name when the kernel does not say.
	KernelVersion     string
	KernelBytes       int64
	InitramfsBytes    int64 // compressed
	UncompressedBytes int64 // the cpio archive
	Files             int   // records in the archive
	// Modules are the kernel modules in the image, in an order that loads
	// each after its dependencies.
	Modules []string
	// Builtin are requested modules the kernel already contains.
	Builtin []string
	// ConfigKey is the fingerprint of the baked-in config key, "" for
	// none.
	ConfigKey string

	// Boot media, when asked for: their paths ("" when not built).
	UKI, Disk, PXEDir   string
	UKIBytes, DiskBytes int64
}

const buildSteps = 6

// Build writes OutDir/vmlinuz and OutDir/initramfs.cpio.zst (or .gz).
// Both are written under temporary names and renamed into place only when
// the whole build succeeded, so a failed build leaves any earlier outputs
// as they were.
func Build(ctx context.Context, o Options) (*Result, error) {
	if o.Kernel == "" || o.ModulesDir == "" || o.OutDir == "" {
		return nil, errors.New("image build needs a kernel, a modules directory and an output directory")
	}
	initramfsFile, err := initramfsName(o.Compression)
	if err != nil {
		return nil, err
	}
	if o.Init == "" {
		if o.Init, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("init binary: %w", err)
		}
	}
	if o.Busybox == "" {
		o.Busybox = DefaultBusybox
	}
	if err := o.checkMedia(); err != nil {
		return nil, err
	}
	configKey, err := o.readConfigKey()
	if err != nil {
		return nil, err
	}
	steps := buildSteps
	for _, on := range []bool{o.UKI, o.DiskSize > 0, o.PXE} {
		if on {
			steps++
		}
	}
	p := newProgress(o.Progress, steps)
	p.printf("building %s for %s\n", filepath.Join(o.OutDir, initramfsFile), o.Kernel)
	t := newTree()

	cfg, err := addConfig(t, o, p)
	if err != nil {
		return nil, err
	}
	keyFP, err := addConfigKey(t, o, configKey)
	if err != nil {
		return nil, err
	}
	if keyFP != "" {
		p.printf("          key       %s (%s): a config from a URL needs a valid signature\n", o.ConfigKey, keyFP)
	}

	db, err := openModules(o.ModulesDir)
	if err != nil {
		return nil, err
	}
	kfi, err := os.Stat(o.Kernel)
	if err != nil {
		return nil, fmt.Errorf("kernel: %w", err)
	}
	kver, err := checkKernel(o.Kernel, db.Release())
	if err != nil {
		return nil, err
	}
	if kver == "" {
		kver = db.Release()
	}
	p.step("kernel", "%s (%s, %s)", o.Kernel, kver, size(kfi.Size()))

	want := append(kmod.BaseModules(), kmod.HardwareModules()...)
	want = append(want, o.Modules...)
	want = uniqueNames(append(want, cfg.Modules...))
	set, err := db.Select(want)
	if err != nil {
		return nil, err
	}
	if err := addModules(t, db, set); err != nil {
		return nil, err
	}
	builtin := "none built in"
	if len(set.Builtin) > 0 {
		builtin = "built in: " + strings.Join(set.Builtin, " ")
	}
	p.step("modules", "%d in the image for %d requested (%s)", len(set.Modules), len(want), builtin)

	if err := addSkeleton(t); err != nil {
		return nil, err
	}
	initLibs, err := t.addBinary("init", o.Init, 0o755, "init "+o.Init)
	if err != nil {
		return nil, err
	}
	// The console shell runs the CLI by name (nucbox status, nucbox logs):
	// the same binary, which answers as the CLI when it is not PID 1.
	if err := t.add("usr/bin/nucbox", &entry{mode: symlinkMode, link: "/init", origin: "the nucbox CLI"}); err != nil {
		return nil, err
	}
	applets, bbLibs, err := t.addBusybox(ctx, o.Busybox)
	if err != nil {
		return nil, err
	}
	p.step("init", "/init from %s%s; busybox %s with %d applets%s",
		o.Init, libNote(initLibs), o.Busybox, applets, libNote(bbLibs))

	fsBins, fsLibs, err := addFSTools(t, o)
	if err != nil {
		return nil, err
	}
	if err := addCACerts(t, o); err != nil {
		return nil, err
	}
	nbin, nlib, nfiles, err := addExtras(t, o)
	if err != nil {
		return nil, err
	}
	nbin, nlib = nbin+fsBins, nlib+fsLibs
	qemuNote, err := addQEMUIfNeeded(ctx, t, o, cfg.VMs)
	if err != nil {
		return nil, err
	}
	p.step("extras", "%d binaries with %d libraries, %d files%s", nbin, nlib, nfiles, qemuNote)
	for _, f := range missingGuestFiles(t, cfg.GuestFiles) {
		p.printf("          note: %s\n", f)
	}

	if err := t.resolveLinks(); err != nil {
		return nil, err
	}
	t.fillParents()

	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, err
	}
	res := &Result{
		Kernel:        filepath.Join(o.OutDir, "vmlinuz"),
		Initramfs:     filepath.Join(o.OutDir, initramfsFile),
		KernelVersion: kver,
		Modules:       set.Names(),
		Builtin:       set.Builtin,
		ConfigKey:     keyFP,
	}
	initrd, err := writeInitramfs(ctx, t, o.OutDir, o.Compression, p, res)
	if err != nil {
		return nil, err
	}
	defer initrd.discard()
	kernel, err := copyKernel(o.Kernel, o.OutDir)
	if err != nil {
		return nil, err
	}
	defer kernel.discard()
	res.KernelBytes = kfi.Size()

	var media []*pendingOutput
	if o.wantsMedia() {
		media, err = buildMedia(o, p, kernel.tmp, initrd.tmp, kver, res)
		if err != nil {
			return nil, err
		}
		defer func() {
			for _, m := range media {
				m.discard()
			}
		}()
	}

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := initrd.commit(res.Initramfs); err != nil {
		return nil, err
	}
	if err := kernel.commit(res.Kernel); err != nil {
		return nil, err
	}
	for _, m := range media {
		if err := m.commit(m.dst); err != nil {
			return nil, err
		}
	}
	syncDir(o.OutDir)
	if o.PXE {
		syncDir(res.PXEDir)
	}
	p.summary(res)
	return res, nil
}

func libNote(n int) string {
	if n == 0 {
		return " (static)"
	}
	return fmt.Sprintf(" (dynamic, %d libraries)", n)
}

// Baked is a config as an image carries it, with what the build needs
// from it. The command line fills it from config.Load, so that the image
// builder sees the config as plain values and never reads one itself.
type Baked struct {
	// Path is the config file; its bytes are baked in as they are.
	Path string
	// Invalid says why the config does not validate, for images that
	// test the boot failure path; empty for a valid config.
	Invalid string
	// Modules are the kernel modules the config asks for.
	Modules []string
	// VMs counts the config's guests: with any, QEMU comes along.
	VMs int
	// GuestFiles are the files the guests read at start (config.VMFiles).
	GuestFiles []GuestFile
}

// GuestFile is a file a guest reads at start, at its absolute path.
type GuestFile struct {
	VM, What, Path string
}

// addConfig adds the config, and returns it (empty when there is none):
// its modules go into the image and its VMs decide whether QEMU comes.
func addConfig(t *tree, o Options, p *progress) (Baked, error) {
	if o.Config == nil {
		p.step("config", "none baked in: the kernel command line must name one")
		return Baked{}, nil
	}
	c := *o.Config
	data, err := os.ReadFile(c.Path)
	if err != nil {
		return Baked{}, fmt.Errorf("config: %w", err)
	}
	status := "valid"
	if c.Invalid != "" {
		status = "INVALID, baked in on request: " + firstLine(c.Invalid)
	}
	if err := t.generated(ConfigPath, data, 0o644, "config "+c.Path); err != nil {
		return Baked{}, err
	}
	p.step("config", "%s: %s", c.Path, status)
	return c, nil
}

// missingGuestFiles lists the files the config's VMs read that the image
// does not carry. They are not errors: on a real box they live on the
// data partition, but a test image that forgot one would otherwise only
// show it as a failed guest after a long boot.
func missingGuestFiles(t *tree, files []GuestFile) []string {
	var out []string
	for _, f := range files {
		n, err := cleanName(f.Path)
		if err != nil {
			continue
		}
		if _, ok := t.entries[n]; !ok {
			out = append(out, fmt.Sprintf("vm %s: %s %s is not in the image; it must be on the box at boot", f.VM, f.What, f.Path))
		}
	}
	return out
}

// addQEMUIfNeeded adds QEMU when the config has VMs or o.QEMU asks for
// it, and returns a note for the progress line with what it cost.
func addQEMUIfNeeded(ctx context.Context, t *tree, o Options, vms int) (string, error) {
	if !o.QEMU && vms == 0 {
		return "", nil
	}
	qemu, qemuImg := o.QEMUBinary, o.QemuImg
	if qemu == "" {
		qemu = DefaultQEMU
	}
	if qemuImg == "" {
		qemuImg = DefaultQemuImg
	}
	set, err := findQEMU(ctx, qemu, qemuImg)
	if err != nil {
		return "", err
	}
	_, before := t.counts()
	libs, fw, err := t.addQEMU(set)
	if err != nil {
		return "", err
	}
	_, after := t.counts()
	why := fmt.Sprintf("%d VMs in the config", vms)
	if vms == 0 {
		why = "requested"
	}
	version := ""
	if set.version != "" {
		version = " " + set.version
	}
	return fmt.Sprintf("; QEMU%s (%s): %d programs and modules with %d libraries, %d firmware files, +%s uncompressed",
		version, why, len(set.binaries), libs, fw, size(after-before)), nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// addSkeleton adds the directories, device nodes and account files the
// kernel and a shell expect before anything is mounted. The kernel opens
// /dev/console for PID 1's stdin/out/err before /init runs, so that node
// must be in the archive itself; devtmpfs is mounted over /dev later.
func addSkeleton(t *tree) error {
	const origin = "image skeleton"
	dirs := []struct {
		name string
		perm uint64
	}{
		{"bin", 0o755}, {"sbin", 0o755}, {"usr/bin", 0o755}, {"usr/sbin", 0o755},
		{"lib", 0o755}, {"dev", 0o755}, {"proc", 0o555}, {"sys", 0o555},
		{"run", 0o755}, {"tmp", 0o1777}, {"etc", 0o755}, {"etc/nucbox", 0o755},
		{"root", 0o700}, {"var", 0o755}, {"var/lib", 0o755}, {"var/log", 0o755},
		{"mnt", 0o755},
	}
	for _, d := range dirs {
		if err := t.dir(d.name, d.perm, origin); err != nil {
			return err
		}
	}
	if err := t.charDev("dev/console", 0o600, 5, 1, origin); err != nil {
		return err
	}
	if err := t.charDev("dev/null", 0o666, 1, 3, origin); err != nil {
		return err
	}
	if err := t.symlink("var/run", "../run", origin); err != nil {
		return err
	}
	if err := t.generated("etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644, origin); err != nil {
		return err
	}
	return t.generated("etc/group", []byte("root:x:0:\n"), 0o644, origin)
}

// addExtras adds Options.Binaries and Options.Files, in sorted order so
// that conflicts are reported the same way every time.
func addExtras(t *tree, o Options) (bins, libs, files int, err error) {
	for _, b := range o.Binaries {
		if !filepath.IsAbs(b) {
			return 0, 0, 0, fmt.Errorf("binary %s: give an absolute path; it is also its path in the image", b)
		}
		n, err := t.addBinary(b, b, 0, "binary "+b)
		if err != nil {
			return 0, 0, 0, err
		}
		bins++
		libs += n
	}
	dsts := make([]string, 0, len(o.Files))
	for d := range o.Files {
		dsts = append(dsts, d)
	}
	sort.Strings(dsts)
	for _, d := range dsts {
		if path.Clean("/"+d) == configsig.PublicKeyPath {
			return 0, 0, 0, fmt.Errorf("file %s: give the config key as ConfigKey (--config-key), which is checked to be a public key", d)
		}
		n, err := t.addHostPath(path.Clean("/"+d), o.Files[d], "file "+o.Files[d])
		if err != nil {
			return 0, 0, 0, err
		}
		files += n
	}
	return bins, libs, files, nil
}

// DefaultCACerts is Debian's CA bundle (package ca-certificates), at the
// path Go's crypto/x509 reads on Linux.
const DefaultCACerts = "/etc/ssl/certs/ca-certificates.crt"

// addCACerts installs the CA bundle: without one the box cannot pull from
// a registry over https or fetch an https config URL.
func addCACerts(t *tree, o Options) error {
	src := o.CACerts
	if src == "" {
		if _, err := os.Stat(DefaultCACerts); err != nil {
			return nil
		}
		src = DefaultCACerts
	}
	if _, ok := o.Files[DefaultCACerts]; ok {
		return nil // the caller brings its own
	}
	if o.CACerts != "" {
		b, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("CA bundle: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			return fmt.Errorf("CA bundle %s: no PEM certificate in it", src)
		}
	}
	return t.hostFile(DefaultCACerts, src, 0o644, "CA certificates "+src)
}
