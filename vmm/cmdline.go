package vmm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Cmdline returns QEMU's arguments (without argv[0]) for s. It is a pure
// function of s: what exists on disk is checked by Preflight, not here.
//
// The guest always starts paused (-S): the supervisor connects to QMP
// first and only then lets the CPUs run, so no guest output or event is
// lost and a QEMU that cannot be controlled never runs a guest.
func Cmdline(s Spec) ([]string, error) {
	if s.Name == "" {
		return nil, errors.New("VM has no name")
	}
	if err := s.CheckNICs(); err != nil {
		return nil, err
	}
	var cpu string
	switch s.Accel {
	case KVM:
		cpu = "host"
	case TCG:
		// max enables every feature TCG can emulate; the default qemu64
		// model lacks instructions that current distributions require.
		cpu = "max"
	default:
		return nil, fmt.Errorf("accelerator %q not resolved (kvm or tcg)", s.Accel)
	}
	p := s.Paths()

	a := []string{
		"-name", "guest=" + opt(s.Name) + ",debug-threads=on",
		// No defaults: QEMU would otherwise add a user-mode NIC, a VGA card
		// and a monitor nobody reads, and read /etc/qemu configs.
		"-nodefaults", "-no-user-config",
		"-machine", opt(s.Machine),
		"-accel", string(s.Accel),
		"-cpu", cpu,
		"-smp", strconv.Itoa(s.CPUs),
		"-m", mebibytes(s.Memory),
		// The serial console goes to QEMU's stdout, which the supervisor
		// copies into the log file and the ring buffer; signal=off keeps a
		// stray ^C on nucbox's console from killing the guest.
		"-chardev", "stdio,id=serial0,signal=off",
		"-serial", "chardev:serial0",
	}
	if s.User != nil {
		// The socket nucbox made; QEMU, unprivileged, cannot write the
		// directory it is in.
		a = append(a, "-chardev", fmt.Sprintf("socket,id=qmp,fd=%d,server=on,wait=off", qmpFD), "-mon", "chardev=qmp,mode=control")
	} else {
		a = append(a, "-qmp", "unix:"+opt(p.QMP)+",server=on,wait=off")
	}
	a = append(a,
		"-S",
		// QEMU parses what the guest sends (devices, disk images,
		// network frames): its seccomp filter keeps a compromised QEMU
		// from running programs, changing its user or privileges, or
		// touching scheduling and resource limits.
		"-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
	)
	if s.HasDisplay() {
		// A unix socket only, never a TCP port: QEMU's VNC has no
		// password worth the name, and the box's VLANs and workloads
		// must not reach it. nucbox proxies it, authenticated (OpenVNC).
		a = append(a, "-vnc", "unix:"+opt(p.VNC),
			"-device", "VGA",
			// An absolute pointer keeps the VNC cursor and the guest's in step.
			"-device", "qemu-xhci,id=usb", "-device", "usb-tablet,bus=usb.0")
	} else {
		a = append(a, "-display", "none")
	}
	if s.Kernel != "" {
		a = append(a, "-kernel", s.Kernel)
		if s.Initrd != "" {
			a = append(a, "-initrd", s.Initrd)
		}
		if s.Append != "" {
			a = append(a, "-append", s.Append)
		}
	}

	boot := bootIndexes(s)
	for i, d := range s.Disks {
		drive := fmt.Sprintf("file=%s,format=%s,if=none,id=disk%d,discard=unmap",
			opt(d.Path), d.Format, i)
		if d.ReadOnly {
			drive += ",readonly=on"
		}
		a = append(a, "-drive", drive,
			"-device", fmt.Sprintf("virtio-blk-pci,drive=disk%d%s", i, boot.index('c', i)))
	}
	// CD-ROMs sit on the q35 AHCI ports ide.0 to ide.5, the seed last so
	// that configured ISOs keep their port when cloud-init is added.
	port := 0
	for i, iso := range s.CDROMs {
		a = append(a, "-drive", fmt.Sprintf("file=%s,format=raw,if=none,id=cd%d,media=cdrom,readonly=on", opt(iso), i),
			"-device", fmt.Sprintf("ide-cd,drive=cd%d,bus=ide.%d%s", i, port, boot.index('d', i)))
		port++
	}
	if s.CloudInit != nil {
		a = append(a, "-drive", fmt.Sprintf("file=%s,format=raw,if=none,id=seed,media=cdrom,readonly=on", opt(p.Seed)),
			"-device", fmt.Sprintf("ide-cd,drive=seed,bus=ide.%d", port))
	}
	for i, pt := range s.NICs {
		dev := fmt.Sprintf("virtio-net-pci,netdev=net%d,mac=%s", i, pt.MAC)
		if idx := boot.index('n', i); idx != "" {
			dev += idx
		} else {
			// Without a boot index the iPXE option ROM is dead weight: skip
			// it, so a box without the ROM files can still run the guest.
			dev += ",romfile="
		}
		netdev := fmt.Sprintf("tap,id=net%d,ifname=%s,script=no,downscript=no", i, opt(pt.TAP))
		if s.User != nil {
			// Opened by nucbox: attaching to a TAP by name needs
			// CAP_NET_ADMIN, or the TAP's owner (see vswitch.Port).
			netdev = fmt.Sprintf("tap,id=net%d,fd=%d", i, tapFD(i))
		}
		a = append(a, "-netdev", netdev, "-device", dev)
	}
	return a, nil
}

// opt escapes a value for QEMU's key=value,key=value option syntax, where
// a literal comma is written twice.
func opt(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// mebibytes renders a size for -m, rounded up to whole MiB (QEMU's unit).
func mebibytes(sz int64) string {
	const mib = 1 << 20
	return strconv.FormatUint((uint64(sz)+mib-1)/mib, 10) + "M"
}

// bootOrder is the VM's boot letters: as configured, else disks then
// CD-ROMs, and the network only for a guest with nothing else to boot.
func bootOrder(s Spec) string {
	if s.Boot != "" {
		return s.Boot
	}
	if len(s.Disks) == 0 && len(s.CDROMs) == 0 && s.Kernel == "" && len(s.NICs) > 0 {
		return "n"
	}
	return "cd"
}

// bootSlots maps each device class to the bootindex of its first device.
// QEMU's -boot order= is ignored for devices that carry a bootindex and
// cannot tell one virtio disk from another, so the order is expressed as
// bootindex properties only.
type bootSlots map[byte]int

func bootIndexes(s Spec) bootSlots {
	counts := map[byte]int{'c': len(s.Disks), 'd': len(s.CDROMs), 'n': len(s.NICs)}
	slots := bootSlots{}
	next := 1
	for _, c := range []byte(bootOrder(s)) {
		if _, seen := slots[c]; seen {
			continue
		}
		slots[c] = next
		next += counts[c]
	}
	return slots
}

// index returns ",bootindex=N" for device i of class c, or "" when the
// class is not in the boot order.
func (b bootSlots) index(c byte, i int) string {
	first, ok := b[c]
	if !ok {
		return ""
	}
	return ",bootindex=" + strconv.Itoa(first+i)
}
