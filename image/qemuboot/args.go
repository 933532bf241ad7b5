package qemuboot

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"strconv"
)

// OVMF files from Debian's ovmf package, for booting the USB image. The
// variable store is a template: QEMU writes to the copy it is given.
const (
	OVMFCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	OVMFVars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
)

// Options describe one boot. Exactly one of Kernel (a direct kernel boot
// with Initramfs and Cmdline) or Disk (the USB image under OVMF, with
// EFIVars a writable copy of the variable store) is set.
type Options struct {
	Kernel, Initramfs, Cmdline string
	Disk, EFIVars              string

	// Accel is kvm or tcg. KVM gets the host's CPU, TCG QEMU's max model
	// (which has RDRAND, so the box's entropy is quick).
	Accel string
	// MemoryMiB and CPUs size the machine.
	MemoryMiB, CPUs int
	// Forward makes guest TCP ports reachable on the host.
	Forward []Forward
	// MAC is the uplink NIC's address; QEMU's default is the same for
	// every machine, which boxes sharing a trunk cannot have.
	MAC string
	// Lab, when set, shares the uplink's wire with the lab's tagged
	// hosts through QEMU's hub; the user network stays on it untagged.
	Lab *Lab
	// Unattended is a boot nobody types into (`nucbox test`): the
	// console is only written to stdout, there is no monitor on it, and
	// a reboot ends QEMU instead of booting again.
	Unattended bool
}

// Forward is one guest TCP port reachable at Host (127.0.0.1:PORT).
type Forward struct {
	Host      string
	GuestPort int
}

// Args returns QEMU's arguments for o. The console is the terminal
// (-nographic: Ctrl-A X quits, Ctrl-A C is QEMU's monitor), and a reboot
// reboots, as a real box would after an upgrade, unless o.Unattended.
func Args(o Options) ([]string, error) {
	if (o.Kernel == "") == (o.Disk == "") {
		return nil, errors.New("give a kernel or a disk image to boot, not both or neither")
	}
	cpu := "max"
	switch o.Accel {
	case "kvm":
		cpu = "host"
	case "tcg":
	default:
		return nil, fmt.Errorf("accelerator %q: want kvm or tcg", o.Accel)
	}
	if o.MemoryMiB < 256 {
		return nil, fmt.Errorf("memory %d MiB: the box needs at least 256", o.MemoryMiB)
	}
	if o.CPUs < 1 {
		return nil, fmt.Errorf("cpus %d: want at least 1", o.CPUs)
	}
	a := []string{
		"-accel", o.Accel, "-cpu", cpu, "-machine", "q35",
		"-m", strconv.Itoa(o.MemoryMiB), "-smp", strconv.Itoa(o.CPUs),
		"-nographic",
	}
	if o.Unattended {
		a = append(a, "-nodefaults", "-serial", "stdio", "-no-reboot")
	}
	a = append(a, "-device", "virtio-rng-pci")
	if o.Kernel != "" {
		if o.Initramfs == "" {
			return nil, errors.New("a kernel boot needs the initramfs")
		}
		a = append(a, "-kernel", o.Kernel, "-initrd", o.Initramfs, "-append", o.Cmdline)
	} else {
		if o.EFIVars == "" {
			return nil, errors.New("a disk boot needs a writable copy of the OVMF variable store")
		}
		a = append(a,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+OVMFCode,
			"-drive", "if=pflash,format=raw,unit=1,file="+o.EFIVars,
			"-device", "qemu-xhci,id=xhci",
			"-drive", "if=none,id=stick,format=raw,file="+o.Disk,
			"-device", "usb-storage,bus=xhci.0,drive=stick,bootindex=1")
	}
	user := "user,id=uplink"
	for _, f := range o.Forward {
		host, port, err := net.SplitHostPort(f.Host)
		if err != nil {
			return nil, fmt.Errorf("forward %q: %w", f.Host, err)
		}
		if f.GuestPort < 1 || f.GuestPort > 65535 {
			return nil, fmt.Errorf("forward to guest port %d: out of range", f.GuestPort)
		}
		user += fmt.Sprintf(",hostfwd=tcp:%s:%s-:%d", host, port, f.GuestPort)
	}
	nic := "virtio-net-pci,netdev="
	mac := ""
	if o.MAC != "" {
		hw, err := net.ParseMAC(o.MAC)
		if err != nil || len(hw) != 6 {
			return nil, fmt.Errorf("MAC %q: want six bytes such as 52:54:00:12:34:56", o.MAC)
		}
		mac = ",mac=" + hw.String()
	}
	if o.Lab == nil {
		a = append(a, "-netdev", user, "-device", nic+"uplink"+mac)
		return a, nil
	}
	// One hub: the box's NIC, the user network and the lab's socket each
	// on a port of it, so every frame reaches the other two.
	a = append(a,
		"-netdev", user, "-netdev", "hubport,id=hub-user,hubid=0,netdev=uplink",
		"-netdev", o.Lab.netdev(), "-netdev", "hubport,id=hub-lab,hubid=0,netdev=lab",
		"-netdev", "hubport,id=hub-nic,hubid=0", "-device", nic+"hub-nic"+mac)
	return a, nil
}

// MACFor derives a stable, locally administered uplink MAC from a name
// (the box's hostname), so that boxes on one trunk differ and a box keeps
// its DHCP lease from run to run.
func MACFor(name string) string {
	h := sha256.Sum256([]byte(name))
	return net.HardwareAddr{0x52, 0x54, 0x00, h[0], h[1], h[2]}.String()
}

// FreePort returns a TCP address on the loopback that was free a moment
// ago, for a forward the user did not choose.
func FreePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
