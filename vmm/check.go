package vmm

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
)

// VMError is a problem with one VM. vmm reports problems per VM so that
// one broken guest never keeps the others from starting.
type VMError struct {
	VM  string
	Err error
}

func (e *VMError) Error() string { return "vm " + e.VM + ": " + e.Err.Error() }
func (e *VMError) Unwrap() error { return e.Err }

// ahciPorts is the number of SATA ports of q35's built-in AHCI
// controller, where CD-ROMs and the cloud-init seed go.
const ahciPorts = 6

// minMemory is below what any guest firmware plus kernel boots in.
const minMemory = 16 << 20

// Check returns the problems of s that show in the spec alone. config's
// validation finds them in the config file first, with positions; Check
// guards a Guest against a spec that did not come from there.
// What needs the box (files, memory) is checked by Preflight when
// the guest starts.
func Check(s Spec) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, &VMError{s.Name, fmt.Errorf(format, a...)}) }
	if s.Name == "" {
		errs = append(errs, &VMError{"?", errors.New("no name")})
	}
	if s.CPUs < 1 {
		add("cpus %d: must be at least 1", s.CPUs)
	}
	if s.Memory < minMemory {
		add("memory %d bytes: a guest needs at least 16MiB", s.Memory)
	}
	if s.Machine == "" {
		add("no machine type")
	}
	switch s.AccelMode {
	case "auto", "kvm", "tcg":
	default:
		add("accel %q: want auto, kvm or tcg", s.AccelMode)
	}
	if s.ShutdownTimeout <= 0 {
		add("shutdown-timeout must be positive")
	}
	for i, d := range s.Disks {
		if d.Path == "" {
			add("disk %d: no path", i)
		}
		switch d.Format {
		case "qcow2":
		case "raw":
			if d.Backing != "" {
				add("disk %d (%s): a raw disk cannot have a backing image; use qcow2", i, d.Path)
			}
		default:
			add("disk %d (%s): format %q: want qcow2 or raw", i, d.Path, d.Format)
		}
	}
	for i, iso := range s.CDROMs {
		if iso == "" {
			add("cdrom %d: no path", i)
		}
	}
	seed := 0
	if s.CloudInit != nil {
		seed = 1
	}
	if n := len(s.CDROMs) + seed; n > ahciPorts {
		add("%d CD-ROMs (cloud-init's seed counts as one): the q35 machine has %d SATA ports", n, ahciPorts)
	}
	if s.Kernel == "" && (s.Initrd != "" || s.Append != "") {
		add("initrd and append need a kernel")
	}
	if s.VNC != nil && (*s.VNC < 0 || *s.VNC > 99) {
		// The old display numbers' range, still enforced so that a config
		// that loaded before loads the same way now.
		add("vnc display %d: want 0 to 99", *s.VNC)
	}
	seen := map[rune]bool{}
	for _, c := range s.Boot {
		if !strings.ContainsRune("cdn", c) {
			add("boot %q: letters are c (disk), d (cdrom) and n (network)", s.Boot)
			break
		}
		if seen[c] {
			add("boot %q: %c appears twice", s.Boot, c)
		}
		seen[c] = true
		switch {
		case c == 'c' && len(s.Disks) == 0:
			add("boot %q: c (disk) but the VM has no disks", s.Boot)
		case c == 'd' && len(s.CDROMs) == 0:
			add("boot %q: d (cdrom) but the VM has no CD-ROMs", s.Boot)
		case c == 'n' && len(s.NICs) == 0:
			add("boot %q: n (network) but the VM has no NICs", s.Boot)
		}
	}
	for i, n := range s.NICs {
		switch {
		case n.TAP == "":
			add("nic %d: no TAP name", i)
		case len(n.MAC) != 6:
			add("nic %d: MAC %q is not an Ethernet address", i, n.MAC)
		case n.MAC[0]&1 != 0:
			add("nic %d: MAC %s is a multicast address", i, n.MAC)
		}
		if err := checkIPv4(n.IPv4); err != nil {
			add("nic %d: %v", i, err)
		}
	}
	if s.CloudInit != nil && s.CloudInit.MetaData != "" {
		if _, err := metaData(s); err != nil {
			add("%v", err)
		}
	}
	return errs
}

// CheckAll checks every VM and what VMs can clash on: names and writable
// disks (two guests writing one image corrupt it). VNC displays no longer
// clash: each is a socket in its guest's own directory.
func CheckAll(specs []Spec) []error {
	var errs []error
	names := map[string]bool{}
	disks := map[string]string{}
	for _, s := range specs {
		errs = append(errs, Check(s)...)
		if names[s.Name] {
			errs = append(errs, &VMError{s.Name, errors.New("name used by another VM")})
		}
		names[s.Name] = true
		for _, d := range s.Disks {
			if d.ReadOnly || d.Path == "" {
				continue
			}
			p := path.Clean(d.Path)
			if other, ok := disks[p]; ok && other != s.Name {
				errs = append(errs, &VMError{s.Name, fmt.Errorf("disk %s is also written by vm %s", d.Path, other)})
			} else {
				disks[p] = s.Name
			}
		}
	}
	return errs
}

// Host is what Preflight knows about the box. Tests fill it in; HostFacts
// reads the real one.
type Host struct {
	// MemTotal is the box's RAM in bytes, 0 when unknown.
	MemTotal uint64
}

// HostFacts reads the running box.
func HostFacts() Host {
	return Host{MemTotal: memTotal()}
}

// Preflight returns what keeps s from starting on this box: files the
// config names that are missing (a disk without a size to create it, a
// backing image, an ISO, a kernel or initrd), more memory than the box
// has, a socket path too long to bind. QEMU would fail on each of
// these too, but with a message that does not name the config field.
func Preflight(s Spec, h Host) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, &VMError{s.Name, fmt.Errorf(format, a...)}) }
	exists := func(what, p string) {
		if p == "" {
			return
		}
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			add("%s %s: not found", what, p)
		case err != nil:
			add("%s %s: %v", what, p, err)
		case fi.IsDir():
			add("%s %s: is a directory", what, p)
		}
	}
	for i, d := range s.Disks {
		_, err := os.Stat(d.Path)
		switch {
		case err == nil:
		case !errors.Is(err, fs.ErrNotExist):
			add("disk %d (%s): %v", i, d.Path, err)
		case d.ReadOnly:
			add("disk %d (%s): not found, and read-only disks are not created", i, d.Path)
		case d.Size == 0 && d.Backing == "":
			add("disk %d (%s): not found; give it a size (or a backing image) to create it", i, d.Path)
		}
		exists(fmt.Sprintf("disk %d backing image", i), d.Backing)
	}
	for i, iso := range s.CDROMs {
		exists(fmt.Sprintf("cdrom %d", i), iso)
	}
	exists("kernel", s.Kernel)
	exists("initrd", s.Initrd)
	if h.MemTotal > 0 && uint64(s.Memory) > h.MemTotal {
		add("memory %d MiB is more than the box has (%d MiB)", uint64(s.Memory)>>20, h.MemTotal>>20)
	}
	if err := checkSocketPath(s.Paths().VNC); err != nil {
		add("%v", err)
	}
	if err := s.CheckNICs(); err != nil {
		add("%v", err)
	}
	return errs
}

func memTotal() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseUint(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
