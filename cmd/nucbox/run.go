package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/image"
	"github.com/nucbox/nucbox/image/qemuboot"
	"github.com/nucbox/nucbox/internal/safe"
	"github.com/nucbox/nucbox/vmm"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// runOptions are the flags of `nucbox run`.
type runOptions struct {
	usb             bool
	trunk           string
	diskSize        string
	memory, cpus    int
	apiPort         int
	accel           string
	cache           string
	kernel, modules string
	rebuild         bool
	files           []string
	platformCache   string
}

// addBootFlags gives `nucbox run` and `nucbox test` the flags of the
// machine they boot and the image they build.
func addBootFlags(c *cobra.Command, ro *runOptions) {
	f := c.Flags()
	f.IntVar(&ro.memory, "memory", 2048, "the box's memory in `MiB`")
	f.IntVar(&ro.cpus, "cpus", 2, "the box's CPUs")
	f.StringVar(&ro.accel, "accel", "auto", "QEMU accelerator: auto (KVM when it works here), kvm or tcg")
	f.StringVar(&ro.cache, "cache", "", "`DIR` for built images (default: the user's cache directory, nucbox/run)")
	f.StringVar(&ro.kernel, "kernel", "", "custom kernel image (default: the pinned platform's, as 'nucbox image build')")
	f.StringVar(&ro.modules, "modules", "", "the custom kernel's modules directory (default: /lib/modules/<kernel version>)")
	f.StringVar(&ro.platformCache, "platform-cache", "", "`DIR` of the pinned platform's packages (default $XDG_CACHE_HOME/nucbox/platform)")
	f.StringArrayVar(&ro.files, "add-file", nil, "IMAGE-PATH=HOST-PATH: host file or directory to include, as with 'nucbox image build' (repeatable)")
}

func newRunCmd() *cobra.Command {
	var ro runOptions
	c := &cobra.Command{
		Use:   "run CONFIG",
		Short: "Build CONFIG's image (cached) and boot it in QEMU on this machine",
		Long: `Try a config before it goes onto a stick: build its image (as 'nucbox image
build' does; the build is cached and done again only when the config, this
nucbox binary or the flags change) and boot it in QEMU with the console on
this terminal. Ctrl-A X quits QEMU; Ctrl-A C is QEMU's monitor, where
system_powerdown powers the box off cleanly.

The box's uplink is on QEMU's user network (NAT to this machine's network,
with a DHCP server). The box's TLS API is forwarded to a port on this
machine's loopback; when the box is ready the command prints the address,
the token and the certificate's fingerprint, ready for 'nucbox status'. A
config without api.listen gets api.listen ":8443" for this run (the config
file itself is not changed), since nothing else could reach the box.

KVM is used when this machine has one that runs guests at full speed
(--accel auto), TCG otherwise; the choice is printed.

--trunk=NAME puts the uplink on a wire shared by every box run with the
same --trunk on this machine: frames tagged with a VLAN go to all of them,
as through one switch, so that two boxes' workloads on VLAN 30 reach each
other; untagged frames stay on each box's own user network (give the boxes
different hostnames, since their MACs derive from them).

--usb builds the USB disk image instead and boots it under UEFI (OVMF), as
a NUC boots the stick. The disk is kept in the cache with the build, so
the box's data partition (volumes, the generated token) lasts from one run
to the next; --rebuild starts from a new stick.`,
		Example: `  nucbox run examples/basic.yaml
  nucbox run box.yaml --usb --api-port 8443
  nucbox status --host https://127.0.0.1:8443 --token TOKEN --fingerprint AB:CD:...`,
		Args: exactFiles(1, "a config file"),
		RunE: func(c *cobra.Command, args []string) error {
			return runBox(c, args[0], ro)
		},
	}
	f := c.Flags()
	f.BoolVar(&ro.usb, "usb", false, "boot the USB disk image under UEFI (OVMF) instead of the kernel and initramfs")
	f.StringVar(&ro.diskSize, "disk", "2GiB", "`SIZE` of the USB disk image with --usb")
	f.IntVar(&ro.apiPort, "api-port", 0, "loopback `PORT` the box's API is forwarded to (default: a free one)")
	f.StringVar(&ro.trunk, "trunk", "", "put the uplink on trunk `NAME` (--trunk=NAME; --trunk alone is lab), shared with every box run with the same trunk on this machine: their tagged VLANs meet as on one switch")
	f.Lookup("trunk").NoOptDefVal = "lab"
	addBootFlags(c, &ro)
	f.BoolVar(&ro.rebuild, "rebuild", false, "build again even when the cache has this image (with --usb: a new stick, its data gone)")
	return c
}

// runBox builds (or finds) the image and runs QEMU until it exits.
func runBox(c *cobra.Command, path string, ro runOptions) error {
	stderr := c.ErrOrStderr()
	if ro.apiPort < 0 || ro.apiPort > 65535 {
		return usageError{fmt.Errorf("--api-port %d: want 1-65535, or 0 for a free port", ro.apiPort)}
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return errors.New("qemu-system-x86_64 is not installed (Debian: apt-get install qemu-system-x86)")
	}
	cfg, cfgData, guestPort, token, note, err := runConfig(path)
	if err != nil {
		return err
	}
	if note != "" {
		fmt.Fprintln(stderr, "nucbox run: "+note)
	}
	dir, err := runBuild(c, path, cfgData, ro)
	if err != nil {
		return err
	}
	choice, err := vmm.ChooseAccel(ro.accel, vmm.HostKVM)
	if err != nil {
		return usageError{fmt.Errorf("--accel: %w", err)}
	}
	fmt.Fprintf(stderr, "nucbox run: accelerator %s (%s)\n", choice.Accel, choice.Reason)
	host := "127.0.0.1:" + strconv.Itoa(ro.apiPort)
	if ro.apiPort == 0 {
		if host, err = qemuboot.FreePort(); err != nil {
			return fmt.Errorf("finding a free port for the API: %w", err)
		}
	}
	o := qemuboot.Options{Accel: string(choice.Accel), MemoryMiB: ro.memory, CPUs: ro.cpus, MAC: qemuboot.MACFor(cfg.Hostname),
		Forward: []qemuboot.Forward{{Host: host, GuestPort: guestPort}}}
	if ro.usb {
		o.Disk, o.EFIVars = filepath.Join(dir, image.DiskName), filepath.Join(dir, "efivars.fd")
		if err := copyIfMissing(qemuboot.OVMFVars, o.EFIVars); err != nil {
			return fmt.Errorf("UEFI variable store: %w (Debian: apt-get install ovmf)", err)
		}
	} else {
		o.Kernel, o.Initramfs = filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initramfs.cpio.zst")
		o.Cmdline = "console=ttyS0 panic=-1"
	}
	if ro.trunk != "" {
		dir, err := trunkDir(ro.trunk)
		if err != nil {
			return err
		}
		lab, err := qemuboot.StartLab(nil, dir)
		if err != nil {
			return err
		}
		defer lab.Close()
		safe.Go(log.Printf, "trunk", lab.Serve)
		o.Lab = lab
		fmt.Fprintf(stderr, "nucbox run: the uplink is on trunk %q: its tagged VLANs reach every box run with --trunk=%s on this machine; untagged traffic stays on this box's user network\n", ro.trunk, ro.trunk)
	}
	qargs, err := qemuboot.Args(o)
	if err != nil {
		return usageError{err}
	}
	tokenFile := filepath.Join(dir, "api-token")
	if token == "" {
		if b, err := os.ReadFile(tokenFile); err == nil {
			token = strings.TrimSpace(string(b))
		}
	}
	// The terminal is in raw mode while QEMU runs (it reads keys one by
	// one), so lines printed among the console's need a carriage return.
	nl := "\n"
	if term.IsTerminal(int(os.Stdin.Fd())) {
		nl = "\r\n"
	}
	w := &runWatch{hostAddr: host, token: token,
		saveToken: func(t string) { _ = os.WriteFile(tokenFile, []byte(t+"\n"), 0o600) },
		announce: func(s string) {
			fmt.Fprint(stderr, nl+strings.ReplaceAll(s, "\n", nl)+nl)
		}}
	fmt.Fprintf(stderr, "nucbox run: booting %s; Ctrl-A X quits, Ctrl-A C then system_powerdown powers off\n", path)
	cmd := exec.CommandContext(c.Context(), qemu, qargs...)
	cmd.Stdin, cmd.Stderr = os.Stdin, stderr
	pr, pw := io.Pipe()
	cmd.Stdout = io.MultiWriter(c.OutOrStdout(), pw)
	safe.Go(log.Printf, "console watch", func() { w.watch(pr) })
	err = cmd.Run()
	pw.Close()
	if err != nil {
		return fmt.Errorf("qemu: %w", err)
	}
	return nil
}

// runConfig reads the config and returns the bytes the image carries,
// the API's port inside the box, the token when the config sets one, and
// a note when the run adds the API listener the config lacks. An invalid
// config is refused with the loader's errors (file, line and field).
func runConfig(path string) (cfg *config.Config, data []byte, port int, token, note string, err error) {
	cfg, err = config.Load(path)
	if err != nil {
		return nil, nil, 0, "", "", fmt.Errorf("config %s is invalid: %w", path, err)
	}
	data, err = os.ReadFile(path)
	if err != nil {
		return nil, nil, 0, "", "", err
	}
	listen := cfg.API.Listen
	if listen == "" {
		listen = ":8443"
		if data, err = config.WithAPIListen(data, listen); err != nil {
			return nil, nil, 0, "", "", fmt.Errorf("config %s: adding api.listen for this run: %w", path, err)
		}
		note = `the config has no api.listen: this run's image listens on ":8443" so that the CLI can reach the box (` + path + ` is unchanged)`
	}
	_, p, err := splitPort(listen)
	if err != nil {
		return nil, nil, 0, "", "", fmt.Errorf("config %s: api.listen %q: %w", path, listen, err)
	}
	return cfg, data, p, cfg.API.Token, note, nil
}

func splitPort(addr string) (string, int, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", 0, errors.New("no port")
	}
	p, err := strconv.Atoi(addr[i+1:])
	if err != nil || p < 1 || p > 65535 {
		return "", 0, fmt.Errorf("port %q out of range", addr[i+1:])
	}
	return addr[:i], p, nil
}

// runBuild returns the directory holding the image for this config,
// binary and flags, building it when the cache has none. A build goes to
// a scratch directory renamed into place at the end, so an interrupted
// build never passes for a finished one.
func runBuild(c *cobra.Command, path string, cfgData []byte, ro runOptions) (string, error) {
	o := image.Options{Kernel: ro.kernel, ModulesDir: ro.modules}
	if err := defaultKernel(c, &o, ro.platformCache); err != nil {
		return "", err
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	key, err := runKey(exe, cfgData, o.Kernel, o.ModulesDir, ro)
	if err != nil {
		return "", err
	}
	root := ro.cache
	if root == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory (give --cache): %w", err)
		}
		root = filepath.Join(base, "nucbox", "run")
	}
	dir := filepath.Join(root, key)
	if !ro.rebuild {
		if _, err := os.Stat(filepath.Join(dir, "vmlinuz")); err == nil {
			fmt.Fprintf(c.ErrOrStderr(), "nucbox run: the image is cached in %s\n", dir)
			return dir, nil
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	scratch, err := os.MkdirTemp(root, key+".building-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(scratch)
	cfgPath := filepath.Join(scratch, "config.yaml")
	if err := os.WriteFile(cfgPath, cfgData, 0o644); err != nil {
		return "", err
	}
	baked, err := bakedConfig(cfgPath, false)
	if err != nil {
		return "", fmt.Errorf("config %s: %w", path, err)
	}
	o.Config, o.OutDir, o.Version, o.Progress = baked, scratch, version, c.ErrOrStderr()
	if o.Files, err = addFiles(ro.files); err != nil {
		return "", err
	}
	if ro.usb {
		n, err := parseDiskSize(ro.diskSize)
		if err != nil {
			return "", usageError{fmt.Errorf("--disk: %w", err)}
		}
		o.UKI, o.DiskSize = true, n
	}
	fmt.Fprintf(c.ErrOrStderr(), "nucbox run: building the image of %s in %s\n", path, dir)
	if _, err := image.Build(c.Context(), o); err != nil {
		return "", err
	}
	if err := os.Remove(cfgPath); err != nil {
		return "", err
	}
	if ro.rebuild {
		if err := os.RemoveAll(dir); err != nil {
			return "", err
		}
	}
	if err := os.Rename(scratch, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// runKey names a build by everything that goes into it.
func runKey(exe string, cfgData []byte, kernel, modules string, ro runOptions) (string, error) {
	h := sha256.New()
	f, err := os.Open(exe)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	fmt.Fprintf(h, "\x00%s\x00%s\x00%s\x00usb=%t,%s\x00%q\x00", version, kernel, modules, ro.usb, ro.diskSize, ro.files)
	h.Write(cfgData)
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

var trunkNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// trunkDir is where the boxes on trunk name meet: a directory of the
// user's own, so that only the user's boxes share it.
func trunkDir(name string) (string, error) {
	if !trunkNameRE.MatchString(name) {
		return "", usageError{fmt.Errorf("--trunk %q: a name of lower-case letters, digits and dashes", name)}
	}
	base := os.Getenv("XDG_RUNTIME_DIR")
	if base == "" {
		base = filepath.Join(os.TempDir(), fmt.Sprintf("nucbox-%d", os.Getuid()))
		if err := os.MkdirAll(base, 0o700); err != nil {
			return "", err
		}
	}
	return filepath.Join(base, "nucbox-trunk-"+name), nil
}

// copyIfMissing copies src to dst unless dst exists: the UEFI variables
// of a stick are kept between runs, as a NUC's are.
func copyIfMissing(src, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
