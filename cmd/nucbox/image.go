package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nucbox/nucbox/image"
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
	var o image.Options
	var files []string
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

Without --kernel the newest /boot/vmlinuz-*-amd64 is used, and without
--modules the matching /lib/modules/VERSION.`,
		Example: `  nucbox image build --config examples/basic.yaml -o build/image
  nucbox image build --config box.yaml --kernel /boot/vmlinuz-6.1.0-26-amd64 -o out`,
		Args: exactFiles(0, "flags only, no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			if o.Config == "" || o.OutDir == "" {
				return usageError{fmt.Errorf("image build needs --config and -o (see 'nucbox image build --help')")}
			}
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
			o.Progress = c.ErrOrStderr()
			_, err := image.Build(c.Context(), o)
			return err
		},
	}
	f := c.Flags()
	f.StringVarP(&o.Config, "config", "c", "", "config file to bake into the image (required)")
	f.StringVarP(&o.OutDir, "output", "o", "", "directory for vmlinuz and the initramfs (required)")
	f.StringVar(&o.Kernel, "kernel", "", "kernel image (default: newest /boot/vmlinuz-*-amd64)")
	f.StringVar(&o.ModulesDir, "modules", "", "kernel modules directory (default: /lib/modules/<kernel version>)")
	f.StringVar(&o.Init, "init", "", "nucbox binary to use as /init (default: this binary)")
	f.StringVar(&o.Busybox, "busybox", "/bin/busybox", "static busybox for the rescue shell")
	f.StringSliceVar(&o.Modules, "module", nil, "extra kernel module to include (repeatable)")
	f.StringSliceVar(&o.Binaries, "add-binary", nil, "host binary to include with its shared libraries (repeatable)")
	f.StringArrayVar(&files, "add-file", nil, "IMAGE-PATH=HOST-PATH: host file or directory to include (repeatable), e.g. a guest kernel under the state directory")
	f.BoolVar(&o.QEMU, "qemu", false, "include QEMU even when the config has no VMs (a config with VMs always gets it)")
	f.StringVar(&o.Compression, "compress", "zstd", "initramfs compression: zstd or gzip")
	f.BoolVar(&o.AllowInvalidConfig, "allow-invalid-config", false, "bake in a config that fails validation (to test the boot failure path)")
	return c
}

// newestKernel picks the highest-versioned Debian kernel in dir.
func newestKernel(dir string) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(dir, "vmlinuz-*-amd64"))
	if len(matches) == 0 {
		return "", fmt.Errorf("no kernel found as %s/vmlinuz-*-amd64: install linux-image-amd64 (make deps) or pass --kernel", dir)
	}
	sort.Slice(matches, func(i, j int) bool { return versionLess(matches[i], matches[j]) })
	return matches[len(matches)-1], nil
}

// modulesDirFor maps /boot/vmlinuz-VERSION to /lib/modules/VERSION.
func modulesDirFor(kernel string) string {
	return filepath.Join("/lib/modules", strings.TrimPrefix(filepath.Base(kernel), "vmlinuz-"))
}

// versionLess compares strings with runs of digits compared as numbers, so
// that 6.1.0-10 sorts after 6.1.0-9.
func versionLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := leadingDigits(a), leadingDigits(b)
		if da != "" && db != "" {
			if len(strings.TrimLeft(da, "0")) != len(strings.TrimLeft(db, "0")) {
				return len(strings.TrimLeft(da, "0")) < len(strings.TrimLeft(db, "0"))
			}
			if da != db {
				return strings.TrimLeft(da, "0") < strings.TrimLeft(db, "0")
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}
