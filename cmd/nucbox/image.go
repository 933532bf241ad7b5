package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/image"
	"github.com/nucbox/nucbox/image/esp"
	"github.com/nucbox/nucbox/image/pxe"
	"github.com/nucbox/nucbox/internal/configsig"
	"github.com/nucbox/nucbox/internal/natsort"
	"github.com/spf13/cobra"
)

func newImageCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "image",
		Short: "Build bootable nucbox images",
	}
	c.AddCommand(newImageBuildCmd())
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

Without --kernel the newest /boot/vmlinuz-*-amd64 is used, and without
--modules the matching /lib/modules/VERSION.

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
			if o.Kernel == "" {
				k, err := newestKernel("/boot")
				if err != nil {
					return err
				}
				o.Kernel = k
			}
			if o.ModulesDir == "" {
				o.ModulesDir = modulesDirFor(o.Kernel)
			}
			if err := mediaFlags(c, &o, diskSize, espSize, pxeServer); err != nil {
				return err
			}
			if len(files) > 0 {
				o.Files = map[string]string{}
				for _, f := range files {
					dst, src, ok := strings.Cut(f, "=")
					if !ok || dst == "" || src == "" {
						return usageError{fmt.Errorf("--add-file %q: want IMAGE-PATH=HOST-PATH", f)}
					}
					o.Files[dst] = src
				}
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
			o.Progress = c.ErrOrStderr()
			_, err = image.Build(c.Context(), o)
			return err
		},
	}
	f := c.Flags()
	f.StringVarP(&configPath, "config", "c", "", "config file to bake into the image (required)")
	f.StringVarP(&o.OutDir, "output", "o", "", "directory for vmlinuz and the initramfs (required)")
	f.StringVar(&o.Kernel, "kernel", "", "kernel image (default: newest /boot/vmlinuz-*-amd64)")
	f.StringVar(&o.ModulesDir, "modules", "", "kernel modules directory (default: /lib/modules/<kernel version>)")
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

// newestKernel picks the highest-versioned Debian kernel in dir.
func newestKernel(dir string) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(dir, "vmlinuz-*-amd64"))
	if len(matches) == 0 {
		return "", fmt.Errorf("no kernel found as %s/vmlinuz-*-amd64: install linux-image-amd64 (make deps) or pass --kernel", dir)
	}
	sort.Slice(matches, func(i, j int) bool { return natsort.Less(matches[i], matches[j]) })
	return matches[len(matches)-1], nil
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
