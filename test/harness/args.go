package harness

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Firmware selects what QEMU boots first.
type Firmware int

const (
	// BIOS is QEMU's default SeaBIOS, enough for -kernel boots and PXE.
	BIOS Firmware = iota
	// OVMF is UEFI, for USB disk images and unified kernel images.
	OVMF
	// OVMFSecureBoot is OVMF built with Secure Boot, its variables
	// behind SMM as on real hardware. The empty variable store starts in
	// setup mode: no keys, nothing checked until a PK is enrolled.
	OVMFSecureBoot
)

// UEFI reports whether f is an OVMF build, which needs a variable store.
func (f Firmware) UEFI() bool { return f == OVMF || f == OVMFSecureBoot }

// OVMF firmware files from Debian's ovmf package. The 4M build is the one
// the product targets; its variable store is copied per machine because
// QEMU writes to it.
var (
	OVMFCode           = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	OVMFSecureBootCode = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
	OVMFVars           = "/usr/share/OVMF/OVMF_VARS_4M.fd"
)

// Options describe one QEMU machine. The zero value of every field is a
// sensible default, so a test only names what it cares about.
type Options struct {
	// Name prefixes the machine's log lines and names its artifacts;
	// default m1, m2, ... in boot order within the test.
	Name string

	// Kernel, Initramfs and Append boot a kernel directly. Leave Kernel
	// empty to boot from firmware (disk, PXE). console=ttyS0 and panic=-1
	// are added unless Append sets them: the harness reads ttyS0, and a
	// panicking guest should end the test at once instead of hanging until
	// a deadline (-no-reboot turns the panic's reboot into QEMU exiting).
	Kernel, Initramfs, Append string

	// CPU is QEMU's -cpu model, default max (which has RDRAND). qemu64
	// has none, as a hypervisor's default CPU model or an older machine.
	CPU string
	// NoRNG leaves out the virtio-rng device the harness adds by default,
	// so that the guest's kernel has no hardware source of entropy.
	NoRNG bool

	MemoryMiB int    // default 1024
	CPUs      int    // default 1; TCG on two shared cores gains little from more
	Machine   string // default q35, the machine type the appliance's own guests use

	NICs   []NIC
	Drives []Drive

	Firmware Firmware
	// EFIVars is the OVMF variable store. Empty means a fresh copy in the
	// machine's directory; give a path to keep variables across boots (boot
	// counting, A/B slots), and it is created from the template if missing.
	EFIVars string

	// Boot is QEMU's -boot order, e.g. "n" for PXE, "c" for the first disk.
	Boot string
	// AllowReboot lets a guest reboot in place. By default a reboot ends
	// QEMU (-no-reboot), so that a test sees it instead of a second boot
	// passing for the first; tests of rebooting itself (A/B fallback) set
	// this.
	AllowReboot bool

	// Extra is appended to the command line as is, for what the harness
	// does not model.
	Extra []string

	// Quiet keeps the console out of the test log (it still goes to the
	// console file and Expect still sees it), for benchmarks, whose log
	// is always printed.
	Quiet bool
}

// NIC is one guest network card. Exactly one of User, Segment or Netdev
// says where it is plugged in.
type NIC struct {
	// Model is the QEMU device, default virtio-net-pci.
	Model string
	// MAC defaults to QEMU's choice, which is the same for every machine:
	// machines on one Segment need distinct MACs.
	MAC string

	// User is QEMU's user-mode network: NAT to the host, a DHCP server,
	// gateway 10.0.2.2, no root needed.
	User *UserNet
	// Segment is an Ethernet segment shared with other machines of the test.
	Segment *Segment
	// Netdev is a raw -netdev specification without id, for anything else.
	Netdev string

	// segmentLocal is this NIC's socket on its Segment, assigned by Boot.
	segmentLocal string
}

// UserNet configures QEMU's user-mode network. The guest reaches the
// host's loopback at 10.0.2.2, so a server a test runs on 127.0.0.1 (a
// config server for PXE boots, say) is there.
type UserNet struct {
	// Forward makes guest ports reachable on the host's loopback.
	Forward []Forward
	// TFTP serves a directory, and BootFile names the file PXE fetches.
	TFTP, BootFile string
	// Net overrides the 10.0.2.0/24 network.
	Net string
}

// Forward is one port forwarded from the host to the guest.
type Forward struct {
	Proto     string // tcp (default) or udp
	GuestPort int
	// HostPort 0 lets the harness pick a free port; Machine.HostAddr tells
	// which.
	HostPort int
}

// Drive is one disk.
type Drive struct {
	Path   string
	Format string // raw (default) or qcow2
	// If is the bus: virtio (default), usb, nvme, ide, or cdrom (an IDE CD
	// drive, for ISO files; QEMU needs ReadOnly for it). USB is how the
	// product's stick images boot on a NUC.
	If        string
	ReadOnly  bool
	Snapshot  bool // writes go to a temporary overlay, the file stays untouched
	BootIndex int  // > 0 gives the firmware a boot order
}

// withDefaults returns o with every zero field filled in.
func (o Options) withDefaults() Options {
	if o.MemoryMiB == 0 {
		o.MemoryMiB = 1024
	}
	if o.CPUs == 0 {
		o.CPUs = 1
	}
	if o.Machine == "" {
		o.Machine = "q35"
		if o.Firmware == OVMFSecureBoot {
			o.Machine = "q35,smm=on"
		}
	}
	if o.CPU == "" {
		o.CPU = "max"
	}
	return o
}

// kernelAppend is the command line the harness passes for direct kernel
// boots.
func kernelAppend(user string) string {
	var pre []string
	if !hasParam(user, "console") {
		pre = append(pre, "console=ttyS0")
	}
	if !hasParam(user, "panic") {
		pre = append(pre, "panic=-1")
	}
	return strings.TrimSpace(strings.Join(append(pre, user), " "))
}

func hasParam(cmdline, name string) bool {
	for _, f := range strings.Fields(cmdline) {
		if f == name || strings.HasPrefix(f, name+"=") {
			return true
		}
	}
	return false
}

// qemuArgs is the whole command line of a machine whose options were
// resolved by Boot (defaults, forwarded ports, segment sockets, EFI vars).
// It does no I/O, so its table test pins down exactly what QEMU receives.
func qemuArgs(o Options, qmpSocket string) ([]string, error) {
	o = o.withDefaults()
	a := []string{
		"-accel", "tcg", // KVM hangs here; see ENVIRONMENT.md
		"-cpu", o.CPU,
		"-machine", o.Machine,
		"-m", strconv.Itoa(o.MemoryMiB),
		"-smp", strconv.Itoa(o.CPUs),
		"-nographic", "-nodefaults",
		// The console is QEMU's stdio, so it is captured from the first
		// byte with no socket to connect in time.
		"-serial", "stdio",
		// Paused until the harness has connected QMP, so that no event and
		// no early failure happens before anyone listens.
		"-S",
		"-qmp", "unix:" + qmpSocket + ",server=on,wait=off",
	}
	if !o.NoRNG {
		// Guests that generate keys must not wait for entropy under TCG.
		a = append(a, "-device", "virtio-rng-pci")
	}
	if !o.AllowReboot {
		a = append(a, "-no-reboot")
	}
	switch o.Firmware {
	case BIOS:
	case OVMF, OVMFSecureBoot:
		if o.EFIVars == "" {
			return nil, errors.New("OVMF needs a variable store (Boot makes one)")
		}
		code := OVMFCode
		if o.Firmware == OVMFSecureBoot {
			// The Secure Boot build refuses to start without SMM, and
			// only code in SMM may write its variable store.
			code = OVMFSecureBootCode
			a = append(a, "-global", "driver=cfi.pflash01,property=secure,value=on")
		}
		a = append(a,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+code,
			"-drive", "if=pflash,format=raw,unit=1,file="+o.EFIVars)
	default:
		return nil, fmt.Errorf("unknown firmware %d", o.Firmware)
	}
	if o.Kernel != "" {
		a = append(a, "-kernel", o.Kernel)
		if o.Initramfs != "" {
			a = append(a, "-initrd", o.Initramfs)
		}
		a = append(a, "-append", kernelAppend(o.Append))
	} else if o.Initramfs != "" || o.Append != "" {
		return nil, errors.New("Initramfs and Append need Kernel")
	}
	if o.Boot != "" {
		a = append(a, "-boot", "order="+o.Boot)
	}

	if len(o.NICs) == 0 {
		a = append(a, "-nic", "none")
	}
	for i, n := range o.NICs {
		id := "net" + strconv.Itoa(i)
		backend, err := netdev(n)
		if err != nil {
			return nil, fmt.Errorf("NIC %d: %w", i, err)
		}
		a = append(a, "-netdev", backend+",id="+id)
		model := n.Model
		if model == "" {
			model = "virtio-net-pci"
		}
		dev := model + ",netdev=" + id
		if n.MAC != "" {
			dev += ",mac=" + n.MAC
		}
		a = append(a, "-device", dev)
	}

	usb := false
	for i, d := range o.Drives {
		id := "disk" + strconv.Itoa(i)
		if d.Path == "" {
			return nil, fmt.Errorf("drive %d: no path", i)
		}
		format := d.Format
		if format == "" {
			format = "raw"
		}
		spec := "if=none,id=" + id + ",format=" + format + ",file=" + qemuEscape(d.Path)
		if d.ReadOnly {
			spec += ",readonly=on"
		}
		if d.Snapshot {
			spec += ",snapshot=on"
		}
		a = append(a, "-drive", spec)
		var dev string
		switch d.If {
		case "", "virtio":
			dev = "virtio-blk-pci"
		case "usb":
			if !usb {
				a = append(a, "-device", "qemu-xhci,id=xhci")
				usb = true
			}
			dev = "usb-storage,bus=xhci.0"
		case "nvme":
			dev = "nvme,serial=" + id
		case "ide":
			dev = "ide-hd"
		case "cdrom":
			dev = "ide-cd"
		default:
			return nil, fmt.Errorf("drive %d: unknown interface %q", i, d.If)
		}
		dev += ",drive=" + id
		if d.BootIndex > 0 {
			dev += ",bootindex=" + strconv.Itoa(d.BootIndex)
		}
		a = append(a, "-device", dev)
	}
	return append(a, o.Extra...), nil
}

func netdev(n NIC) (string, error) {
	set := 0
	for _, b := range []bool{n.User != nil, n.Segment != nil, n.Netdev != ""} {
		if b {
			set++
		}
	}
	if set != 1 {
		return "", errors.New("exactly one of User, Segment and Netdev must be set")
	}
	switch {
	case n.User != nil:
		s := "user"
		u := n.User
		if u.Net != "" {
			s += ",net=" + u.Net
		}
		if u.TFTP != "" {
			s += ",tftp=" + qemuEscape(u.TFTP)
		}
		if u.BootFile != "" {
			s += ",bootfile=" + qemuEscape(u.BootFile)
		}
		for _, f := range u.Forward {
			if f.HostPort == 0 {
				return "", errors.New("forwarded port without a host port (Boot picks one)")
			}
			proto := f.Proto
			if proto == "" {
				proto = "tcp"
			}
			s += fmt.Sprintf(",hostfwd=%s:127.0.0.1:%d-:%d", proto, f.HostPort, f.GuestPort)
		}
		return s, nil
	case n.Segment != nil:
		if n.segmentLocal == "" {
			return "", errors.New("segment NIC not attached (Boot attaches it)")
		}
		// A unix datagram socket per NIC, talking to the segment's hub:
		// no multicast routing or UDP ports needed, and the hub sees
		// every frame.
		return "dgram,local.type=unix,local.path=" + n.segmentLocal +
			",remote.type=unix,remote.path=" + n.Segment.hubPath, nil
	default:
		return n.Netdev, nil
	}
}

// qemuEscape doubles commas, QEMU's escape inside option values, so that
// any path survives.
func qemuEscape(s string) string {
	return strings.ReplaceAll(s, ",", ",,")
}
