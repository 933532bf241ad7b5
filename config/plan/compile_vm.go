package plan

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/vmm"
	"github.com/nucbox/nucbox/vswitch"
)

// vm compiles one VM: its guest spec and the bridge ports of its NICs,
// whose TAP names and MACs the spec carries too. dns is the uplink's DNS
// servers, written into the guest's network-config. QEMU runs as uid, in
// the group of the same number, which also owns the VM's TAPs.
func (b *compiler) vm(vm config.VM, dns []netip.Addr, uid uint32) (vmm.Spec, []vswitch.Port) {
	s := vmm.Spec{
		Name:            vm.Name,
		Box:             b.c.Hostname,
		StateDir:        b.c.StateDir,
		CPUs:            vm.CPUs,
		Memory:          int64(vm.Memory),
		Machine:         vm.Machine,
		AccelMode:       vm.Accel,
		Kernel:          b.resolve(vm.Kernel),
		Initrd:          b.resolve(vm.Initrd),
		Append:          vm.Append,
		Boot:            vm.Boot,
		DNS:             slices.Clone(dns),
		Restart:         string(vm.Restart),
		ShutdownTimeout: vm.ShutdownTimeout.Std(),
		Cgroup:          config.VMCgroup(vm.Name),
		MemoryMax:       int64(vm.Memory + config.VMMemoryOverhead),
		User:            &vmm.User{UID: uid, GID: uid},
	}
	for _, d := range vm.Disks {
		s.Disks = append(s.Disks, vmm.Disk{
			Path:     b.resolve(d.Path),
			Size:     int64(d.Size),
			Backing:  b.resolve(d.Backing),
			Format:   d.Format,
			ReadOnly: d.ReadOnly,
		})
	}
	for _, iso := range vm.CDROMs {
		s.CDROMs = append(s.CDROMs, b.resolve(iso))
	}
	if vm.VNC != nil {
		n := *vm.VNC
		s.VNC = &n
	}
	if ci := vm.CloudInit; ci != nil {
		s.CloudInit = &vmm.CloudInit{UserData: ci.UserData, MetaData: ci.MetaData}
	}
	var ports []vswitch.Port
	for i, n := range vm.NICs {
		p := b.nicPort(vswitch.KindTAP, vm.Name, i, n)
		// QEMU gets the TAP's descriptor from nucbox; as its owner it
		// could also attach by name (a NIC added over QMP).
		p.Owner, p.Group = uid, uid
		nic := vmm.NIC{TAP: p.Name, MAC: p.MAC}
		nic.IPv4.DHCP = n.IPv4.DHCP
		nic.IPv4.Address, nic.IPv4.Gateway = b.ipv4(fmt.Sprintf("%s: NIC %d: ipv4", vm.Name, i), n.IPv4)
		nic.IPv6 = b.ipv6(fmt.Sprintf("%s: NIC %d: ipv6", vm.Name, i), n.IPv6)
		s.NICs = append(s.NICs, nic)
		ports = append(ports, p)
	}
	return s, ports
}
