package vmm

import (
	"fmt"
	"net"
	"time"

	"github.com/nucbox/nucbox/config"
)

// Spec is one guest as vmm runs it: the VM's config plus what only the box
// knows at apply time. Cmdline turns it into argv without touching the
// system, so every feature is testable as a golden argv.
type Spec struct {
	VM config.VM
	// Box is the box's hostname; it scopes the cloud-init instance-id.
	Box string
	// StateDir anchors relative disk, ISO and kernel paths and holds the
	// guest's own files (see PathsFor).
	StateDir string
	// Ports are the guest's NICs as vswitch made them, in VM.NICs order.
	Ports []Port
	// Accel is the accelerator chosen for this start (see ChooseAccel).
	// The supervisor fills it in; Cmdline refuses to guess.
	Accel Accel
	// DNS servers written into the cloud-init network-config of NICs with
	// a static address.
	DNS []string
}

// PortsFor returns the ports of vm as vswitch names them (config.TAPName)
// with each NIC's MAC: the configured one, or config.DeriveMAC's when the
// config was not defaulted.
func PortsFor(box string, vm config.VM) ([]Port, error) {
	ports := make([]Port, len(vm.NICs))
	for i, n := range vm.NICs {
		mac := config.DeriveMAC(box, vm.Name, i)
		if n.MAC != "" {
			hw, err := net.ParseMAC(n.MAC)
			if err != nil || len(hw) != 6 {
				return nil, fmt.Errorf("nic %d: MAC %q is not an Ethernet address", i, n.MAC)
			}
			mac = hw
		}
		ports[i] = Port{TAP: config.TAPName(vm.Name, i), MAC: mac}
	}
	return ports, nil
}

// Port is one guest NIC: the TAP that vswitch created and put on the
// bridge with its VLANs, and the MAC the guest's virtio-net device gets.
type Port struct {
	TAP string
	MAC net.HardwareAddr
}

// The accessors below read a VM field or, when it is zero, the config
// package's default: config.ApplyDefaults has normally filled them in, but
// a hand-built config.VM (tests, the API) must still give a valid guest.

func cpus(vm config.VM) int {
	if vm.CPUs <= 0 {
		return config.DefaultVMCPUs
	}
	return vm.CPUs
}

func memory(vm config.VM) config.Size {
	if vm.Memory == 0 {
		return config.DefaultVMMemory
	}
	return vm.Memory
}

func machine(vm config.VM) string {
	if vm.Machine == "" {
		return config.DefaultMachine
	}
	return vm.Machine
}

func restartPolicy(vm config.VM) config.Restart {
	if vm.Restart == "" {
		return config.DefaultVMRestart
	}
	return vm.Restart
}

func shutdownTimeout(vm config.VM) time.Duration {
	if vm.ShutdownTimeout <= 0 {
		return time.Duration(config.DefaultShutdownTimeout)
	}
	return time.Duration(vm.ShutdownTimeout)
}

func diskFormat(d config.Disk) string {
	if d.Format == "" {
		return config.DefaultDiskFormat
	}
	return d.Format
}

// Paths returns the guest's files under the state directory.
func (s Spec) Paths() Paths { return PathsFor(s.StateDir, s.VM.Name) }

// Resolve makes a path from the VM's config absolute (see Resolve).
func (s Spec) Resolve(p string) string { return Resolve(s.StateDir, p) }

// VNCPort is the TCP port of the guest's VNC display, 0 without one.
func (s Spec) VNCPort() int {
	if s.VM.VNC == nil {
		return 0
	}
	return 5900 + *s.VM.VNC
}

func (s Spec) checkPorts() error {
	if len(s.Ports) != len(s.VM.NICs) {
		return fmt.Errorf("%d NICs configured but %d TAPs given", len(s.VM.NICs), len(s.Ports))
	}
	for i, p := range s.Ports {
		if p.TAP == "" {
			return fmt.Errorf("nic %d: no TAP name", i)
		}
		if len(p.MAC) != 6 {
			return fmt.Errorf("nic %d: MAC %q is not a 6-byte Ethernet address", i, p.MAC)
		}
	}
	return nil
}
