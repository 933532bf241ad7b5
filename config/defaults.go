package config

import (
	"fmt"
	"net"
	"slices"
	"time"
)

// Default values. They live here, next to ApplyDefaults, and nowhere else:
// the JSON Schema descriptions and the examples quote them.
const (
	DefaultInterface        = "auto"
	DefaultBridge           = "br0"
	DefaultNativeVLAN       = 1
	DefaultCarrierTimeout   = Duration(30 * time.Second)
	DefaultProbeTimeout     = Duration(10 * time.Second)
	DefaultStateDir         = "/var/lib/nucbox"
	DefaultVMCPUs           = 1
	DefaultVMMemory         = 1 * GiB
	DefaultMachine          = "q35"
	DefaultAccel            = "auto"
	DefaultVMRestart        = RestartAlways
	DefaultShutdownTimeout  = Duration(60 * time.Second)
	DefaultContainerRestart = RestartOnFailure
	DefaultContainerMemory  = 1 * GiB
	DefaultContainerPIDs    = 1024
	DefaultReserveMemory    = 256 * MiB
	DefaultReservePIDs      = 512
	DefaultPID1Memory       = 64 * MiB
	DefaultStopTimeout      = Duration(10 * time.Second)
	DefaultDiskFormat       = "qcow2"
	DefaultSessionLifetime  = Duration(12 * time.Hour)
	DefaultSessionIdle      = Duration(time.Hour)
	DefaultDHCPLease        = Duration(time.Hour)
	DefaultDomain           = "lab"
)

// uplink.lldp's values.
const (
	LLDPAdvertise = "advertise"
	LLDPListen    = "listen"
	LLDPOff       = "off"
)

// uplink.vlan-check's values.
const (
	VLANCheckOn  = "on"
	VLANCheckOff = "off"
)

// VMMemoryOverhead is what a VM's QEMU may use besides the guest's
// memory: its own code and heap, device buffers and, under TCG, the
// translation cache (at most an eighth of the box's memory). A VM's cgroup
// allows the guest's memory plus this.
const VMMemoryOverhead = 512 * MiB

// ApplyDefaults fills every field the user left out with its default, and
// derives NIC MACs. It is the one place defaults are applied; Parse calls
// it between decoding and validation, so a returned Config shows the values
// the box will use. It only fills zero values, so applying it twice changes
// nothing. Defaulted lists the paths it filled.
func (c *Config) ApplyDefaults() {
	if c.defaulted == nil {
		c.defaulted = map[string]bool{}
	}
	set := func(path string, isZero bool, fill func()) {
		if isZero {
			fill()
			c.defaulted[path] = true
		}
	}
	u := &c.Uplink
	set("uplink.interface", u.Interface.IsZero() && u.MAC == "", func() { u.Interface.Name = DefaultInterface })
	if b := u.Interface.Bond; b != nil {
		set("uplink.interface.mode", b.Mode == "", func() { b.Mode = BondActiveBackup })
		set("uplink.interface.name", b.Name == "", func() { b.Name = DefaultBondName })
	}
	for i := range c.Overlays {
		if x := c.Overlays[i].VXLAN; x != nil {
			set(fmt.Sprintf("overlays[%d].vxlan.port", i), x.Port == 0, func() { x.Port = DefaultVXLANPort })
		}
	}
	set("uplink.bridge", u.Bridge == "", func() { u.Bridge = DefaultBridge })
	set("uplink.lldp", u.LLDP == "", func() { u.LLDP = LLDPAdvertise })
	set("uplink.vlan-check", u.VLANCheck == "", func() { u.VLANCheck = VLANCheckOn })
	set("uplink.ipv4", u.IPv4.IsZero(), func() { u.IPv4 = IPv4{DHCP: true} })
	set("uplink.ipv6", u.IPv6.IsZero(), func() { u.IPv6 = UplinkIPv6{Mode: IPv6SLAAC} })
	set("uplink.native-vlan", u.NativeVLAN == 0, func() { u.NativeVLAN = DefaultNativeVLAN })
	set("uplink.carrier-timeout", u.CarrierTimeout == 0, func() { u.CarrierTimeout = DefaultCarrierTimeout })
	set("uplink.probe.timeout", u.Probe.Timeout == 0, func() { u.Probe.Timeout = DefaultProbeTimeout })
	set("state-dir", c.StateDir == "", func() { c.StateDir = DefaultStateDir })
	set("dns.domain", c.DNS.Domain == "", func() { c.DNS.Domain = DefaultDomain })
	for i := range u.Addresses {
		if d := u.Addresses[i].DHCP; d != nil {
			set(fmt.Sprintf("uplink.addresses[%d].dhcp.lease", i), d.Lease == 0, func() { d.Lease = DefaultDHCPLease })
		}
	}
	if d := u.DHCPServer; d != nil {
		set("uplink.dhcp-server.lease", d.Lease == 0, func() { d.Lease = DefaultDHCPLease })
	}
	a := &c.API
	set("api.session-lifetime", a.SessionLifetime == 0, func() { a.SessionLifetime = DefaultSessionLifetime })
	set("api.session-idle", a.SessionIdle == 0, func() { a.SessionIdle = DefaultSessionIdle })
	r := &c.Reserve
	set("reserve.memory", r.Memory == 0, func() { r.Memory = DefaultReserveMemory })
	set("reserve.pids", r.PIDs == 0, func() { r.PIDs = DefaultReservePIDs })
	set("reserve.pid1-memory", r.PID1Memory == 0, func() { r.PID1Memory = DefaultPID1Memory })

	for i := range c.VMs {
		vm := &c.VMs[i]
		p := fmt.Sprintf("vms[%d]", i)
		set(p+".cpus", vm.CPUs == 0, func() { vm.CPUs = DefaultVMCPUs })
		set(p+".memory", vm.Memory == 0, func() { vm.Memory = DefaultVMMemory })
		set(p+".machine", vm.Machine == "", func() { vm.Machine = DefaultMachine })
		set(p+".accel", vm.Accel == "", func() { vm.Accel = DefaultAccel })
		set(p+".restart", vm.Restart == "", func() { vm.Restart = DefaultVMRestart })
		set(p+".shutdown-timeout", vm.ShutdownTimeout == 0, func() { vm.ShutdownTimeout = DefaultShutdownTimeout })
		for j := range vm.Disks {
			dk := &vm.Disks[j]
			set(fmt.Sprintf("%s.disks[%d].format", p, j), dk.Format == "", func() { dk.Format = DefaultDiskFormat })
		}
		c.nicDefaults(p, vm.Name, vm.NICs)
	}
	for i := range c.Containers {
		ct := &c.Containers[i]
		p := fmt.Sprintf("containers[%d]", i)
		set(p+".restart", ct.Restart == "", func() { ct.Restart = DefaultContainerRestart })
		set(p+".memory", ct.Memory == 0, func() { ct.Memory = DefaultContainerMemory })
		set(p+".pids", ct.PIDs == 0, func() { ct.PIDs = DefaultContainerPIDs })
		set(p+".stop-timeout", ct.StopTimeout == 0, func() { ct.StopTimeout = DefaultStopTimeout })
		c.nicDefaults(p, ct.Name, ct.NICs)
	}
}

// nicDefaults puts a NIC without vlan or trunk on the uplink's native VLAN
// (the lab network) and gives it its derived MAC. A MAC the user wrote is
// rewritten in canonical form, so that duplicates are found however they
// were spelled.
func (c *Config) nicDefaults(prefix, workload string, nics []NIC) {
	for j := range nics {
		n := &nics[j]
		p := fmt.Sprintf("%s.nics[%d]", prefix, j)
		if n.VLAN == 0 && len(n.Trunk) == 0 && n.Native == 0 {
			n.VLAN = c.Uplink.NativeVLAN
			c.defaulted[p+".vlan"] = true
		}
		if n.MAC == "" {
			n.MAC = DeriveMAC(c.Hostname, workload, j).String()
			c.defaulted[p+".mac"] = true
		} else if hw, err := net.ParseMAC(n.MAC); err == nil && len(hw) == 6 {
			n.MAC = hw.String()
		}
	}
}

// Defaulted lists, sorted, the field paths whose values came from
// ApplyDefaults rather than from the file.
func (c *Config) Defaulted() []string {
	out := make([]string, 0, len(c.defaulted))
	for p := range c.defaulted {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// IsDefaulted tells whether the value at path (as in Error.Path, such as
// "vms[0].memory") came from ApplyDefaults.
func (c *Config) IsDefaulted(path string) bool { return c.defaulted[path] }
