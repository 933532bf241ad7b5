package vmm

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Spec is one guest as vmm runs it, complete: config/plan compiles it from
// the config with every default filled in, every path absolute and every
// NIC's TAP name and MAC derived, and vmm adds nothing of its own. Cmdline
// turns it into argv without touching the system, so every feature is
// testable as a golden argv.
type Spec struct {
	Name string `json:"name"`
	// Box is the box's hostname; it scopes the cloud-init instance-id.
	Box string `json:"box"`
	// StateDir holds the guest's own files (see PathsFor).
	StateDir string `json:"state-dir"`
	CPUs     int    `json:"cpus"`
	// Memory is the guest's RAM in bytes, a whole number of MiB.
	Memory  int64  `json:"memory"`
	Machine string `json:"machine"`
	// AccelMode is the accelerator asked for: auto, kvm or tcg (see
	// ChooseAccel).
	AccelMode string `json:"accel"`
	Disks     []Disk `json:"disks,omitempty"`
	// CDROMs are ISO images, absolute paths.
	CDROMs []string `json:"cdroms,omitempty"`
	// Kernel and Initrd (absolute paths) and Append boot a kernel directly.
	Kernel string `json:"kernel,omitempty"`
	Initrd string `json:"initrd,omitempty"`
	Append string `json:"append,omitempty"`
	// Boot is the boot order in QEMU's letters (c disk, d cdrom, n net);
	// empty lets BootOrder choose.
	Boot string `json:"boot,omitempty"`
	// NICs are the guest's network ports, in config order, on the TAPs
	// vswitch made.
	NICs []NIC `json:"nics,omitempty"`
	// VNC gives the guest a screen (a VGA card and a USB tablet) served
	// by QEMU's VNC on the unix socket Paths.VNC; nil means no display.
	// The number is the config's old display number, kept so that
	// configs that name one still load; it opens no port and means
	// nothing else.
	VNC       *int       `json:"vnc,omitempty"`
	CloudInit *CloudInit `json:"cloud-init,omitempty"`
	// DNS servers written into the cloud-init network-config of NICs with
	// a static address.
	DNS []netip.Addr `json:"dns,omitempty"`
	// Restart is the restart policy (always, on-failure, never): vmm
	// runs one run at a time and carries it for the box's workload pool,
	// which restarts guests.
	Restart string `json:"restart"`
	// ShutdownTimeout is how long an ACPI powerdown may take before QEMU
	// is told to quit.
	ShutdownTimeout time.Duration `json:"shutdown-timeout"`
	// Cgroup is the cgroup v2 group QEMU runs in, relative to the cgroup
	// mount (Options.CgroupRoot); empty leaves QEMU in nucbox's own.
	Cgroup string `json:"cgroup,omitempty"`
	// MemoryMax is the group's memory.max: the guest's memory and QEMU's
	// own; 0 is no limit.
	MemoryMax int64 `json:"memory-max,omitempty"`
	// User runs QEMU unprivileged, as that uid and gid with no
	// capabilities: nucbox opens its TAPs and its QMP socket and passes
	// them in, and gives it its disks (see grantFiles). nil runs QEMU as
	// nucbox's own user.
	User *User `json:"user,omitempty"`

	// Accel is the accelerator chosen for this start (see ChooseAccel).
	// The supervisor fills it in; Cmdline refuses to guess.
	Accel Accel `json:"-"`
}

// MarshalJSON writes the shutdown timeout as text.
func (s Spec) MarshalJSON() ([]byte, error) {
	type spec Spec
	return json.Marshal(struct {
		spec
		ShutdownTimeout string `json:"shutdown-timeout"`
	}{spec(s), s.ShutdownTimeout.String()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Spec) UnmarshalJSON(data []byte) error {
	type spec Spec
	var v struct {
		spec
		ShutdownTimeout string `json:"shutdown-timeout"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*s = Spec(v.spec)
	s.ShutdownTimeout = 0
	if v.ShutdownTimeout == "" {
		return nil
	}
	var err error
	s.ShutdownTimeout, err = time.ParseDuration(v.ShutdownTimeout)
	return err
}

// Disk is one virtio disk.
type Disk struct {
	// Path is the image, absolute.
	Path string `json:"path"`
	// Size in bytes creates the disk, or grows it; 0 leaves it as it is.
	Size int64 `json:"size,omitempty"`
	// Backing is the base image of a qcow2 overlay, absolute.
	Backing string `json:"backing,omitempty"`
	// Format is qcow2 or raw.
	Format   string `json:"format"`
	ReadOnly bool   `json:"read-only,omitempty"`
}

// NIC is one guest NIC: the TAP that vswitch created and put on the
// bridge with its VLANs, the MAC the guest's virtio-net device gets, and
// the address cloud-init gives it.
type NIC struct {
	TAP  string           `json:"tap"`
	MAC  net.HardwareAddr `json:"mac"`
	IPv4 IPv4             `json:"ipv4,omitzero"`
	// IPv6 is a static address for the network-config; invalid for
	// none.
	IPv6 netip.Prefix `json:"ipv6,omitzero"`
}

// MarshalJSON writes the MAC as text rather than base64.
func (n NIC) MarshalJSON() ([]byte, error) {
	type nic NIC
	mac := ""
	if len(n.MAC) > 0 {
		mac = n.MAC.String()
	}
	return json.Marshal(struct {
		nic
		MAC string `json:"mac"`
	}{nic(n), mac})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (n *NIC) UnmarshalJSON(data []byte) error {
	type nic NIC
	var v struct {
		nic
		MAC string `json:"mac"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*n = NIC(v.nic)
	n.MAC = nil
	if v.MAC == "" {
		return nil
	}
	var err error
	n.MAC, err = net.ParseMAC(v.MAC)
	return err
}

// IPv4 is a NIC's address as the guest's network-config gets it: DHCP, a
// static address with an optional gateway, or nothing (left to the guest).
type IPv4 struct {
	DHCP    bool         `json:"dhcp,omitempty"`
	Address netip.Prefix `json:"address,omitzero"`
	Gateway netip.Addr   `json:"gateway,omitzero"`
}

// IsZero reports whether the NIC's address is left to the guest.
func (a IPv4) IsZero() bool { return !a.DHCP && !a.Address.IsValid() && !a.Gateway.IsValid() }

// CloudInit is the NoCloud seed: user-data as given, meta-data merged
// over the generated instance-id and local-hostname.
type CloudInit struct {
	UserData string `json:"user-data,omitempty"`
	MetaData string `json:"meta-data,omitempty"`
}

// MarshalJSON writes the size of user-data, not its text: it often holds
// passwords, and plans get pasted into tickets.
func (c CloudInit) MarshalJSON() ([]byte, error) {
	type cloudInit CloudInit
	user := ""
	if c.UserData != "" {
		user = fmt.Sprintf("%d bytes", len(c.UserData))
	}
	return json.Marshal(struct {
		cloudInit
		UserData string `json:"user-data,omitempty"`
	}{cloudInit(c), user})
}

// UnmarshalJSON reads what MarshalJSON writes, which does not include
// the text of user-data.
func (c *CloudInit) UnmarshalJSON(data []byte) error {
	type cloudInit CloudInit
	var v struct {
		cloudInit
		UserData string `json:"user-data,omitempty"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*c = CloudInit(v.cloudInit)
	c.UserData = ""
	return nil
}

// Paths returns the guest's files under the state directory.
func (s Spec) Paths() Paths { return PathsFor(s.StateDir, s.Name) }

// HasDisplay reports whether the guest has a screen (see OpenVNC).
func (s Spec) HasDisplay() bool { return s.VNC != nil }

// CheckNICs reports a NIC without a TAP name or with a MAC that is not
// six bytes: such a guest cannot be started at all.
func (s Spec) CheckNICs() error {
	for i, n := range s.NICs {
		if n.TAP == "" {
			return fmt.Errorf("nic %d: no TAP name", i)
		}
		if len(n.MAC) != 6 {
			return fmt.Errorf("nic %d: MAC %q is not a 6-byte Ethernet address", i, n.MAC)
		}
	}
	return nil
}
