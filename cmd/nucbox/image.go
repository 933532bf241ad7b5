package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/image"
	"github.com/nucbox/nucbox/image/esp"
	"github.com/nucbox/nucbox/image/platform"
	"github.com/nucbox/nucbox/image/pxe"
	"github.com/nucbox/nucbox/internal/configsig"
	"github.com/spf13/cobra"
)

func newImageCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "image",
		Short: "Build bootable nucbox images",
	}
	c.AddCommand(newImageBuildCmd(), newImageFetchCmd(), newImageLockCmd())
	return c
}

func newImageBuildCmd() *cobra.Command {
	var (
		o            image.Options
		configPath   string
		allowInvalid bool
	)
	var files []string
	var webAssets string
	var diskSize, espSize, pxeServer string
	var mirror, cache string
	c := &cobra.Command{
		Use:   "build --config FILE -o OUTDIR",
		Short: "Build a kernel + initramfs with nucbox as /init and the config baked in",
		Long: `Build the appliance's boot files into OUTDIR: vmlinuz (the kernel, copied)
and a compressed initramfs holding this nucbox binary as /init, the kernel
modules the box needs with everything they depend on (modules.dep, .alias
and .builtin included), a static busybox for the rescue shell, and the
config at /etc/nucbox/config.yaml. The config is validated first; an
invalid config stops the build. When the config has VMs (or with --qemu)
QEMU comes along at Debian's paths: qemu-system-x86_64, qemu-img, their
libraries, the TCG accelerator module and the x86 firmware.

Every image also carries mke2fs, e2fsck and resize2fs with their
libraries, for the box's data partition.

Without --kernel the image is built from the pinned platform: the exact
Debian packages (kernel and modules, busybox-static, QEMU and its
libraries, e2fsprogs, systemd-boot, iPXE, SeaBIOS, CA certificates, CPU
microcode) that
the lock file built into this binary names with their sha256. They are
fetched once from the Debian archive (--mirror, or $NUCBOX_MIRROR, default
` + platform.DefaultMirrorURL + `), checked, unpacked without dpkg or root into
--cache (default $XDG_CACHE_HOME/nucbox/platform, about 122 MiB of
packages and 600 MiB unpacked) and reused. The same config, lock and nucbox
version give byte-identical images on any Linux host; SOURCE_DATE_EPOCH
sets the archive's file times.

With --kernel (and --modules, default /lib/modules/VERSION) the kernel is
yours and busybox, e2fsprogs, QEMU, systemd-boot and the CA bundle come
from this host's Debian packages, as the flags below name them.

Boot media, in OUTDIR besides vmlinuz and the initramfs:
  --uki          nucbox.efi, a unified kernel image: systemd's EFI stub
                 with the kernel, initramfs, command line and an
                 os-release (.osrel) naming this nucbox version
  --disk SIZE    nucbox.img, a raw disk for a USB stick (write it with
                 'nucbox flash'): GPT, a FAT32 ESP (` + esp.ESPName + `) with
                 systemd-boot and the UKI as ` + esp.SlotPath(esp.SlotA) + `,
                 and an unformatted data partition (` + esp.DataName + `) that
                 the box formats and grows to the whole stick at first boot.
                 SIZE like 1GiB or 1G (binary units).
  --pxe          pxe/ with vmlinuz, initramfs and boot.ipxe for a TFTP or
                 HTTP server. The config comes from --config-url, a URL
                 template such as http://10.0.0.1/configs/${mac}.yaml, or
                 --pxe-server HOST[:PORT], short for
                 http://HOST[:PORT]` + pxe.ConfigPathTemplate + `. iPXE fills in ${mac}
                 (52:54:00:12:34:56, the booting NIC), ${uuid} and ${hostname}.

A config from a URL is only as trustworthy as the network it crosses.
--config-key PUBKEY bakes in the public key from 'nucbox config keygen'
(a private key is refused): the box then uses a config from a URL only
when URL.sig holds its valid signature (nucbox config sign), and takes
it over plain http too. Without a key the box refuses a plain http URL
unless nucbox.config.sha256= in --cmdline pins the one config it may
get, so such a build is refused: give --config-key, an https URL, or the
pin.

Secure Boot: --sign-key and --sign-cert (db.key and db.crt from 'nucbox
secureboot keys') sign the UKI and systemd-boot; --enroll-keys DIR puts
the set's PK/KEK/db .auth files on the disk's ESP, and systemd-boot enrols
them by itself on a machine whose firmware is in setup mode. Every UKI
has an .sbat section. A signed UKI built from the pinned platform carries
its Intel and AMD microcode (intel-microcode, amd64-microcode, 20 MiB) as
.ucode, which systemd-stub 256 and later hand to the kernel before the
initramfs (Debian 12's stub 252 ignores it); --microcode platform adds it
to an unsigned UKI too, --microcode FILE puts another cpio there and
--microcode none leaves it out.

The UKI and PXE kernel command line is --cmdline, default
"` + image.DefaultCmdline + `".`,
		Example: `  nucbox image build --config examples/basic.yaml -o build/image
  nucbox image build --config box.yaml --kernel /boot/vmlinuz-6.1.0-26-amd64 -o out
  nucbox image build --config box.yaml -o out --disk 2GiB
  nucbox image build --config box.yaml -o out --pxe --pxe-server 10.0.0.1:8080 --config-key keys/config.pub`,
		Args: exactFiles(0, "flags only, no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			if configPath == "" || o.OutDir == "" {
				return usageError{fmt.Errorf("image build needs --config and -o (see 'nucbox image build --help')")}
			}
			baked, err := bakedConfig(configPath, allowInvalid)
			if err != nil {
				return err
			}
			o.Config = baked
			switch {
			case o.Kernel == "" && o.ModulesDir != "":
				return usageError{fmt.Errorf("--modules is for a custom kernel: give --kernel too")}
			case o.Kernel != "" && (mirror != "" || cache != ""):
				return usageError{fmt.Errorf("--mirror and --cache are for the pinned platform, which a build with --kernel does not use")}
			case o.Kernel != "" && o.ModulesDir == "":
				o.ModulesDir = modulesDirFor(o.Kernel)
			}
			if err := mediaFlags(c, &o, diskSize, espSize, pxeServer); err != nil {
				return err
			}
			if o.Files, err = addFiles(files); err != nil {
				return err
			}
			if webAssets != "" {
				// The page's viewers (make web-assets): plain files at
				// the path the API serves them from.
				if fi, err := os.Stat(webAssets); err != nil || !fi.IsDir() {
					return usageError{fmt.Errorf("--web-assets %s: not a directory (make web-assets fills build/web)", webAssets)}
				}
				if o.Files == nil {
					o.Files = map[string]string{}
				}
				o.Files[api.WebAssetsDir] = webAssets
			}
			// Flags are checked before the platform is fetched: a
			// mistake on the command line costs no download.
			if o.Kernel == "" {
				if err := usePlatform(c, &o, mirror, cache); err != nil {
					return err
				}
			}
			o.Progress = c.ErrOrStderr()
			_, err = image.Build(c.Context(), o)
			return err
		},
	}
	f := c.Flags()
	f.StringVarP(&configPath, "config", "c", "", "config file to bake into the image (required)")
	f.StringVarP(&o.OutDir, "output", "o", "", "directory for vmlinuz and the initramfs (required)")
	f.StringVar(&o.Kernel, "kernel", "", "custom kernel image; then busybox, QEMU and the rest come from this host (default: the pinned platform's)")
	f.StringVar(&o.ModulesDir, "modules", "", "the custom kernel's modules directory (default: /lib/modules/<kernel version>)")
	f.StringVar(&mirror, "mirror", "", "Debian mirror `URL` holding debian/ and debian-security/ for the pinned platform (default $"+platform.MirrorEnv+" or "+platform.DefaultMirrorURL+")")
	f.StringVar(&cache, "cache", "", "`DIR` for the pinned platform's packages and unpacked tree (default $XDG_CACHE_HOME/nucbox/platform)")
	f.StringVar(&o.Init, "init", "", "nucbox binary to use as /init (default: this binary)")
	f.StringVar(&o.Busybox, "busybox", "/bin/busybox", "static busybox for the rescue shell")
	f.StringSliceVar(&o.Modules, "module", nil, "extra kernel module to include (repeatable)")
	f.StringSliceVar(&o.Binaries, "add-binary", nil, "host binary to include with its shared libraries (repeatable)")
	f.StringVar(&webAssets, "web-assets", "", "`DIR` of the web page's screen and console viewers (noVNC, xterm.js; make web-assets fills build/web); without it the page says they are not installed")
	f.StringArrayVar(&files, "add-file", nil, "IMAGE-PATH=HOST-PATH: host file or directory to include (repeatable), e.g. a guest kernel under the state directory")
	f.BoolVar(&o.QEMU, "qemu", false, "include QEMU even when the config has no VMs (a config with VMs always gets it)")
	f.StringVar(&o.Compression, "compress", "zstd", "initramfs compression: zstd or gzip")
	f.BoolVar(&allowInvalid, "allow-invalid-config", false, "bake in a config that fails validation (to test the boot failure path)")
	f.BoolVar(&o.UKI, "uki", false, "also write nucbox.efi, a unified kernel image")
	f.StringVar(&diskSize, "disk", "", "also write nucbox.img, a USB disk image of `SIZE` (e.g. 1GiB)")
	f.StringVar(&espSize, "esp-size", "256MiB", "`SIZE` of the disk image's EFI System Partition")
	f.BoolVar(&o.PXE, "pxe", false, "also write pxe/ with vmlinuz, initramfs and boot.ipxe (needs --config-url or --pxe-server)")
	f.StringVar(&o.ConfigURL, "config-url", "", "PXE: config URL `TEMPLATE`, e.g. http://10.0.0.1/configs/${mac}.yaml")
	f.StringVar(&pxeServer, "pxe-server", "", "PXE: config server `HOST[:PORT]`, for http://HOST[:PORT]"+pxe.ConfigPathTemplate)
	f.StringVar(&o.ConfigKey, "config-key", "", "public key `PUBKEY` ("+configsig.PublicKeyName+" from 'nucbox config keygen'): configs from a URL must be signed with its private key")
	f.StringVar(&o.CACerts, "ca-certs", "", "CA bundle `FILE` (PEM) the box checks https config URLs and registries against (default "+image.DefaultCACerts+"); to trust a lab CA besides the public ones, give a file with both")
	f.StringVar(&o.Cmdline, "cmdline", image.DefaultCmdline, "kernel command line of the UKI, disk image and PXE boot")
	f.StringVar(&o.Stub, "stub", image.DefaultStub, "systemd EFI stub for the UKI")
	f.StringVar(&o.BootLoader, "bootloader", image.DefaultBootLoader, "systemd-boot EFI binary for the disk image")
	f.StringVar(&o.SignKey, "sign-key", "", "Secure Boot: private key `FILE` (PEM) that signs the UKI and the disk's boot loader (db.key from 'nucbox secureboot keys')")
	f.StringVar(&o.SignCert, "sign-cert", "", "Secure Boot: certificate `FILE` of --sign-key (db.crt)")
	f.StringVar(&o.EnrollKeys, "enroll-keys", "", "Secure Boot: key set `DIR` ('nucbox secureboot keys') whose .auth files go onto the disk's ESP, for systemd-boot to enrol on a machine in setup mode")
	f.StringVar(&o.Microcode, "microcode", "", "CPU microcode `CPIO` (kernel/x86/microcode/*.bin, uncompressed newc) for the UKI's .ucode; \""+image.MicrocodePlatform+"\" for the pinned platform's Intel and AMD microcode (the default of a signed build), \""+image.MicrocodeNone+"\" for none")
	f.IntVar(&o.ImageVersion, "image-version", 1, "the UKI's generation (IMAGE_VERSION); a box with Secure Boot on cannot re-stamp a signed upgrade, so give one more than the box runs")
	return c
}

// mediaFlags checks and applies the boot media flags.
func mediaFlags(c *cobra.Command, o *image.Options, diskSize, espSize, pxeServer string) error {
	o.Version = version
	if diskSize != "" {
		n, err := parseDiskSize(diskSize)
		if err != nil {
			return usageError{fmt.Errorf("--disk: %w", err)}
		}
		o.DiskSize = n
	}
	if c.Flags().Changed("esp-size") {
		if diskSize == "" {
			return usageError{fmt.Errorf("--esp-size is for the disk image: give --disk too")}
		}
		n, err := parseDiskSize(espSize)
		if err != nil {
			return usageError{fmt.Errorf("--esp-size: %w", err)}
		}
		o.ESPSize = n
	}
	if pxeServer != "" && o.ConfigURL != "" {
		return usageError{fmt.Errorf("give --config-url or --pxe-server, not both")}
	}
	if (pxeServer != "" || o.ConfigURL != "") && !o.PXE {
		return usageError{fmt.Errorf("--config-url and --pxe-server are for the PXE bundle: give --pxe too")}
	}
	if pxeServer != "" {
		u, err := pxe.ConfigURL(pxeServer)
		if err != nil {
			return usageError{fmt.Errorf("--pxe-server: %w", err)}
		}
		o.ConfigURL = u
	}
	if o.PXE && o.ConfigURL == "" {
		return usageError{fmt.Errorf("--pxe needs --config-url TEMPLATE or --pxe-server HOST[:PORT]: a PXE-booted box fetches its config")}
	}
	if err := o.CheckConfigSource(); err != nil {
		return usageError{err}
	}
	return nil
}

var shortSizeRE = regexp.MustCompile(`^([0-9]+)([KMGT])$`)

// parseDiskSize reads a size as the config does (512MiB, 2GiB), and also
// the single-letter units of truncate and qemu-img (512M, 2G), which are
// binary there too.
func parseDiskSize(s string) (int64, error) {
	if m := shortSizeRE.FindStringSubmatch(s); m != nil {
		s = m[1] + m[2] + "iB"
	}
	n, err := config.ParseSize(s)
	if err != nil {
		return 0, err
	}
	if n == 0 || n > 1<<62 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(n), nil
}

// addFiles reads --add-file IMAGE-PATH=HOST-PATH flags.
func addFiles(files []string) (map[string]string, error) {
	if len(files) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, f := range files {
		dst, src, ok := strings.Cut(f, "=")
		if !ok || dst == "" || src == "" {
			return nil, usageError{fmt.Errorf("--add-file %q: want IMAGE-PATH=HOST-PATH", f)}
		}
		out[dst] = src
	}
	return out, nil
}

// defaultKernel takes the kernel and everything else from the pinned
// platform when no --kernel names a custom one, as image build does.
func defaultKernel(c *cobra.Command, o *image.Options, platformCache string) error {
	switch {
	case o.Kernel == "" && o.ModulesDir != "":
		return usageError{fmt.Errorf("--modules is for a custom kernel: give --kernel too")}
	case o.Kernel != "" && platformCache != "":
		return usageError{fmt.Errorf("--platform-cache is for the pinned platform, which a build with --kernel does not use")}
	case o.Kernel == "":
		return usePlatform(c, o, "", platformCache)
	case o.ModulesDir == "":
		o.ModulesDir = modulesDirFor(o.Kernel)
	}
	return nil
}

// usePlatform points the build at the pinned platform, fetching and
// unpacking it first when the cache does not have it. Flags the user set
// (--busybox, --stub, --bootloader) still name host files.
func usePlatform(c *cobra.Command, o *image.Options, mirror, cache string) error {
	root, err := platform.Ensure(c.Context(), platform.Options{
		Mirror:   mirror,
		Cache:    cache,
		Progress: c.ErrOrStderr(),
	})
	if err != nil {
		return err
	}
	o.Root = root.Dir
	o.Kernel, o.ModulesDir = root.Kernel(), root.ModulesDir()
	o.QEMUVersion = root.Version("qemu-system-x86")
	for flag, v := range map[string]*string{"busybox": &o.Busybox, "stub": &o.Stub, "bootloader": &o.BootLoader} {
		if !c.Flags().Changed(flag) {
			*v = ""
		}
	}
	return nil
}

// modulesDirFor maps /boot/vmlinuz-VERSION to /lib/modules/VERSION.
func modulesDirFor(kernel string) string {
	return filepath.Join("/lib/modules", strings.TrimPrefix(filepath.Base(kernel), "vmlinuz-"))
}

// bakedConfig reads and checks the config an image carries and hands the
// builder what it needs of it: its modules, whether it has VMs (QEMU comes
// along) and the files those VMs read. An invalid config is refused unless
// allowInvalid, which bakes it in as it is to test the boot failure path.
func bakedConfig(path string, allowInvalid bool) (*image.Baked, error) {
	b := &image.Baked{Path: path}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := config.Load(path)
	switch {
	case err != nil && !allowInvalid:
		return nil, fmt.Errorf("config %s is invalid: %w", path, err)
	case err != nil:
		b.Invalid = err.Error()
		return b, nil
	}
	b.Modules, b.VMs = bakedModules(cfg), len(cfg.VMs)
	for _, f := range cfg.VMFiles() {
		b.GuestFiles = append(b.GuestFiles, image.GuestFile(f))
	}
	return b, nil
}
