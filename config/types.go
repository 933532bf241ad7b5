package config

// Config is one box: its name, its uplink and bridge, and the workloads it
// runs. Field tags give the YAML names; the JSON Schema is generated from
// these types, so every field carries a description.
//
// A Config returned by Parse or Load has its defaults filled in (see
// ApplyDefaults) and has been validated.
type Config struct {
	// Hostname of the box; also sent in DHCP requests.
	Hostname string `yaml:"hostname" json:"hostname" jsonschema:"required,pattern=^[a-z0-9]([-a-z0-9]{0\\,61}[a-z0-9])?$" jsonschema_description:"Host name of the box (an RFC 1123 label: lower-case letters, digits and dashes)"`
	// Uplink is the physical port to the lab network and the bridge that
	// takes it over.
	Uplink Uplink `yaml:"uplink,omitempty" json:"uplink,omitzero" jsonschema_description:"The uplink port and the bridge that takes over its address"`
	// Modules are extra kernel modules to load at boot, besides the ones the
	// box needs for its own features and the ones coldplug finds.
	Modules []string `yaml:"modules,omitempty" json:"modules,omitempty" jsonschema_description:"Extra kernel modules to load at boot"`
	// StateDir holds VM disks, the image cache, logs and the last known good
	// config.
	StateDir string `yaml:"state-dir,omitempty" json:"state-dir,omitempty" jsonschema_description:"Absolute directory for VM disks, the image cache and logs (default /var/lib/nucbox)"`
	// VMs are the QEMU guests the box runs.
	VMs []VM `yaml:"vms,omitempty" json:"vms,omitempty" jsonschema_description:"KVM/QEMU guests"`
	// Containers are the OCI containers the box runs.
	Containers []Container `yaml:"containers,omitempty" json:"containers,omitempty" jsonschema_description:"OCI containers"`
	// Registries holds credentials for image registries.
	Registries []Registry `yaml:"registries,omitempty" json:"registries,omitempty" jsonschema_description:"Credentials for container image registries, matched by host"`
	// API configures the management API and web status page.
	API API `yaml:"api,omitempty" json:"api,omitzero" jsonschema_description:"Management API and web status page"`
	// Reserve is what the workloads together can never take from the box
	// itself: PID 1, its console shell, the API and the DHCP client.
	Reserve Reserve `yaml:"reserve,omitempty" json:"reserve,omitzero" jsonschema_description:"Memory and processes kept for the box itself; all workloads together get the rest"`
	// Time is where the box gets the time from.
	Time Time `yaml:"time,omitempty" json:"time,omitzero" jsonschema_description:"NTP servers the box sets its clock from"`
	// Logging ships the box's log and its workloads' output.
	Logging Logging `yaml:"logging,omitempty" json:"logging,omitzero" jsonschema_description:"A remote syslog server for the box's log and its workloads' output"`
	// DNS is the box's name server on the VLANs it serves DHCP on.
	DNS DNS `yaml:"dns,omitempty" json:"dns,omitzero" jsonschema_description:"The box's DNS server on the VLANs whose box address has dhcp: workload names under the domain, other names forwarded to the uplink's resolvers"`
	// Overlays carry bridge VLANs to other boxes over tunnels.
	Overlays []Overlay `yaml:"overlays,omitempty" json:"overlays,omitempty" jsonschema_description:"VLANs carried to other boxes over VXLAN or GRE tunnels (for a lab switch that cannot carry them)"`
	// Switch holds VLAN-wide port policies and port mirrors (policy.go).
	Switch Switch `yaml:"switch,omitempty" json:"switch,omitzero" jsonschema_description:"Port policies per VLAN and port mirrors"`
	// PXEServer makes the box the boot server of a rack (pxe.go).
	PXEServer *PXEServer `yaml:"pxe-server,omitempty" json:"pxe-server,omitempty" jsonschema_description:"Boot other machines over the network from this box: proxyDHCP or DHCP boot options, TFTP and HTTP serving the box's own kernel and initramfs, and per-MAC configs from a directory on the data partition"`

	// defaulted records the paths ApplyDefaults filled in, so that plan can
	// tell the user which values they did not write.
	defaulted map[string]bool
}

// Uplink selects the box's port to the lab network and describes the
// bridge that takes it over.
type Uplink struct {
	// Interface is "auto" (the first Ethernet link with carrier) or a link
	// name such as eno1.
	// or a bond of several NICs ({bond: [eno1, eno2], mode: active-backup}).
	Interface Interface `yaml:"interface,omitempty" json:"interface,omitzero" jsonschema_description:"auto, a link name such as eno1 (default auto unless mac is given), or a bond {bond: [eno1, eno2], mode: active-backup}"`
	// MAC selects the uplink by hardware address instead of by name.
	MAC string `yaml:"mac,omitempty" json:"mac,omitempty" jsonschema_description:"Select the uplink by MAC address instead of by name"`
	// CarrierTimeout bounds the wait for a link with carrier.
	CarrierTimeout Duration `yaml:"carrier-timeout,omitempty" json:"carrier-timeout,omitempty" jsonschema_description:"How long to wait for carrier on the uplink (default 30s)"`
	// Bridge is the name of the bridge that enslaves the uplink.
	Bridge string `yaml:"bridge,omitempty" json:"bridge,omitempty" jsonschema:"pattern=^[^/:\\s]{1\\,15}$" jsonschema_description:"Bridge that enslaves the uplink and takes its MAC and address (default br0)"`
	// IPv4 is the box's own address: DHCP or static.
	IPv4 IPv4 `yaml:"ipv4,omitempty" json:"ipv4,omitzero" jsonschema_description:"dhcp or a static address (default dhcp)"`
	// IPv6 is the box's own IPv6 address: SLAAC, DHCPv6, off or static.
	IPv6 UplinkIPv6 `yaml:"ipv6,omitempty" json:"ipv6,omitzero" jsonschema_description:"slaac, dhcp (DHCPv6), off, or a static address {address: 2001:db8::10/64, gateway: fe80::1} (default slaac)"`
	// DNS servers; with DHCP they are added to the lease's servers.
	DNS []string `yaml:"dns,omitempty" json:"dns,omitempty" jsonschema_description:"DNS servers written to /etc/resolv.conf (added to the lease's servers with DHCP)"`
	// VLANs are carried tagged on the uplink (it is a trunk port).
	VLANs []int `yaml:"vlans,omitempty" json:"vlans,omitempty" jsonschema_description:"VLAN ids carried tagged on the uplink"`
	// NativeVLAN is the untagged VLAN of the uplink, where the box's own
	// address lives.
	NativeVLAN int `yaml:"native-vlan,omitempty" json:"native-vlan,omitempty" jsonschema:"minimum=1,maximum=4094" jsonschema_description:"Untagged VLAN on the uplink where the box's own address lives (default 1)"`
	// Addresses are box addresses on internal VLANs (VLAN interfaces on
	// the bridge).
	Addresses []VLANAddress `yaml:"addresses,omitempty" json:"addresses,omitempty" jsonschema_description:"Static box addresses on VLANs (one VLAN interface per VLAN on the bridge)"`
	// DHCPServer serves DHCP on the uplink's native VLAN, the lab
	// network itself: only with a static uplink.ipv4 and on-uplink: true.
	DHCPServer *DHCPServer `yaml:"dhcp-server,omitempty" json:"dhcp-server,omitempty" jsonschema_description:"Serve DHCP on the lab network (the uplink's native VLAN) from the static uplink.ipv4; needs on-uplink: true"`
	// Probe is the connectivity check after moving the address onto the
	// bridge; failure rolls the move back.
	Probe Probe `yaml:"probe,omitempty" json:"probe,omitzero" jsonschema_description:"Connectivity check after the bridge takeover"`
	// LLDP is what the box does with LLDP on the uplink: advertise
	// itself and listen, listen only, or neither.
	LLDP string `yaml:"lldp,omitempty" json:"lldp,omitempty" jsonschema:"enum=advertise,enum=listen,enum=off" jsonschema_description:"LLDP on the uplink: advertise (send the box's name and listen for the switch's), listen, or off (default advertise)"`
	// VLANCheck is whether the box checks, after the takeover, that the
	// switch port carries each of VLANs.
	VLANCheck string `yaml:"vlan-check,omitempty" json:"vlan-check,omitempty" jsonschema:"enum=on,enum=off" jsonschema_description:"After the bridge takeover, check that the switch port carries each tagged VLAN (ARP for the VLAN's gateway, else a DHCP discover): on or off (default on)"`
}

// IPv4 is either DHCP or a static address. In YAML it is the string
// "dhcp" or a mapping {address: CIDR, gateway: IP}.
type IPv4 struct {
	DHCP    bool   `yaml:"-" json:"-"`
	Address string `yaml:"address,omitempty" json:"address,omitempty" jsonschema:"required" jsonschema_description:"Address with prefix length such as 192.168.1.10/24"`
	Gateway string `yaml:"gateway,omitempty" json:"gateway,omitempty" jsonschema_description:"Default gateway; must lie inside the address's subnet"`
}

// IsZero reports whether nothing was configured.
func (a IPv4) IsZero() bool { return !a.DHCP && a.Address == "" && a.Gateway == "" }

// IPv6 is a workload NIC's static IPv6 address.
type IPv6 struct {
	Address string `yaml:"address" json:"address" jsonschema:"required" jsonschema_description:"Address with prefix length such as fd00:10::5/64"`
}

// IsZero reports whether nothing was configured.
func (a IPv6) IsZero() bool { return a.Address == "" }

// VLANAddress is a box address on one VLAN.
type VLANAddress struct {
	VLAN int `yaml:"vlan" json:"vlan" jsonschema:"required,minimum=1,maximum=4094" jsonschema_description:"VLAN id; must be carried by the uplink or used by a workload"`
	// Address is the box's IPv4 address; a VLAN with only IPv6 has none.
	Address string `yaml:"address,omitempty" json:"address,omitempty" jsonschema_description:"IPv4 address with prefix length such as 10.0.10.1/24 (required unless ipv6 is given: an IPv6-only VLAN)"`
	// NAT makes the box this VLAN's router to the lab network: its subnet
	// is forwarded to the uplink and masqueraded behind the box's uplink
	// address, so workloads on the VLAN need no route on the lab's side.
	// With ipv6 the VLAN's IPv6 prefix is masqueraded the same way
	// (NAT66), and the box's router adverts name it the default router.
	NAT bool `yaml:"nat,omitempty" json:"nat,omitempty" jsonschema_description:"Route this VLAN's subnet to the uplink, masqueraded behind the box's uplink address (workloads use this address as their gateway); with ipv6, the IPv6 prefix too (NAT66, the box's router adverts then name it default router); other VLANs stay unreachable from it"`
	// DHCP makes the box this VLAN's DHCP and DNS server.
	DHCP *DHCPServer `yaml:"dhcp,omitempty" json:"dhcp,omitempty" jsonschema_description:"Serve DHCP (and DNS) on this VLAN from this address"`
	// Gateway is the lab's router on a VLAN of the uplink; the VLAN
	// check asks it by ARP. The box routes nothing through it.
	Gateway string `yaml:"gateway,omitempty" json:"gateway,omitempty" jsonschema_description:"The lab's router on this VLAN (one of uplink.vlans), inside the address's subnet: the VLAN check asks it by ARP; the box routes nothing through it"`
	// IPv6 is the box's IPv6 address on the VLAN. On a VLAN that does not
	// reach the lab network the box advertises its /64 for SLAAC.
	IPv6 string `yaml:"ipv6,omitempty" json:"ipv6,omitempty" jsonschema_description:"Box IPv6 address with prefix length such as fd00:10::1/64; on a VLAN the uplink does not carry the box sends router advertisements for its /64 (SLAAC), naming itself as DNS server when dhcp is set, and no default route"`
}

// DHCPServer is the box's DHCP server on one VLAN. Workload NICs on the
// VLAN with a static address get it as a fixed lease by their MAC; other
// clients get addresses from the range.
type DHCPServer struct {
	Range string `yaml:"range" json:"range" jsonschema:"required,pattern=^[0-9.]+-[0-9.]+$" jsonschema_description:"First and last address handed out, such as 10.0.10.100-10.0.10.199; inside the subnet, without the box's address"`
	// Lease is how long an address is given for.
	Lease Duration `yaml:"lease,omitempty" json:"lease,omitempty" jsonschema_description:"Lease time (default 1h, at least 1m)"`
	// MTU is sent to clients when set (a VLAN carried over a tunnel).
	MTU int `yaml:"mtu,omitempty" json:"mtu,omitempty" jsonschema:"minimum=576,maximum=9000" jsonschema_description:"Interface MTU sent to clients (default: none sent)"`
	// OnUplink is the opt-in for a VLAN the uplink carries: the lab may
	// have its own DHCP server there, and two servers on one network hand
	// out conflicting addresses.
	OnUplink bool `yaml:"on-uplink,omitempty" json:"on-uplink,omitempty" jsonschema_description:"Serve even though the VLAN reaches the lab network (the uplink's native VLAN or one of uplink.vlans); a second DHCP server on a LAN breaks it"`
}

// DNS is the box's name server.
type DNS struct {
	// Domain is appended to workload names: vm1.lab.
	Domain string `yaml:"domain,omitempty" json:"domain,omitempty" jsonschema:"pattern=^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$" jsonschema_description:"Domain of the workloads' names, such as lab for vm1.lab (default lab)"`
}

// Probe describes the connectivity check.
type Probe struct {
	// Target to reach; default: the default gateway.
	Target string `yaml:"target,omitempty" json:"target,omitempty" jsonschema_description:"IP address to probe (default: the gateway)"`
	// Timeout before the takeover is rolled back.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty" jsonschema_description:"How long the probe may take before rollback (default 10s)"`
	// Disabled turns the probe (and so the rollback) off.
	Disabled bool `yaml:"disabled,omitempty" json:"disabled,omitempty" jsonschema_description:"Turn the probe and so the rollback off"`
}

// NIC is one network port of a VM or container on the bridge. Without vlan
// and trunk it is an access port in the uplink's native VLAN, that is on
// the lab network itself.
type NIC struct {
	// VLAN makes the port an access port in this VLAN (untagged).
	VLAN int `yaml:"vlan,omitempty" json:"vlan,omitempty" jsonschema:"minimum=1,maximum=4094" jsonschema_description:"Access VLAN (untagged; default: the uplink's native VLAN unless trunk is given)"`
	// Trunk makes the port a trunk carrying these VLANs tagged.
	Trunk []int `yaml:"trunk,omitempty" json:"trunk,omitempty" jsonschema_description:"VLANs carried tagged (trunk port)"`
	// Native is the untagged VLAN of a trunk port.
	Native int `yaml:"native,omitempty" json:"native,omitempty" jsonschema:"minimum=1,maximum=4094" jsonschema_description:"Untagged VLAN of a trunk port"`
	// MAC is derived from box, workload and NIC index unless given.
	MAC string `yaml:"mac,omitempty" json:"mac,omitempty" jsonschema_description:"Unicast MAC address (default: derived from the hostname, workload name and NIC index)"`
	// IPv4 is dhcp or static; for VMs it goes into the cloud-init
	// network-config.
	IPv4 IPv4 `yaml:"ipv4,omitempty" json:"ipv4,omitzero" jsonschema_description:"dhcp or a static address (for VMs: written to the cloud-init network-config)"`
	// IPv6 is a static IPv6 address; without one a NIC on a VLAN where
	// the box advertises configures its own (SLAAC).
	IPv6 IPv6 `yaml:"ipv6,omitempty" json:"ipv6,omitzero" jsonschema_description:"A static IPv6 address (for VMs: written to the cloud-init network-config); without it a NIC on a VLAN where the box sends router advertisements configures its own"`
	// Policy is the port's ACL, rate limit and guards (policy.go).
	Policy *PortPolicy `yaml:"policy,omitempty" json:"policy,omitempty" jsonschema_description:"Port policy: allow/deny rules, rate limit, spoof, BPDU and RA guards"`
}

// VM is one QEMU guest.
type VM struct {
	Name    string `yaml:"name" json:"name" jsonschema:"required,pattern=^[a-z0-9]([-a-z0-9]{0\\,30}[a-z0-9])?$" jsonschema_description:"Unique workload name (lower-case letters, digits and dashes, at most 32)"`
	CPUs    int    `yaml:"cpus,omitempty" json:"cpus,omitempty" jsonschema:"minimum=1,maximum=255" jsonschema_description:"Virtual CPUs (default 1)"`
	Memory  Size   `yaml:"memory,omitempty" json:"memory,omitempty" jsonschema_description:"Guest memory in whole MiB such as 2GiB (default 1GiB)"`
	Machine string `yaml:"machine,omitempty" json:"machine,omitempty" jsonschema:"pattern=^[a-z0-9][-a-z0-9._]*$" jsonschema_description:"QEMU machine type (default q35)"`
	// Accel is auto (KVM when it works, else TCG), kvm or tcg.
	Accel  string   `yaml:"accel,omitempty" json:"accel,omitempty" jsonschema:"enum=auto,enum=kvm,enum=tcg" jsonschema_description:"Accelerator: auto uses KVM when it works and TCG otherwise (default auto)"`
	Disks  []Disk   `yaml:"disks,omitempty" json:"disks,omitempty" jsonschema_description:"Virtio disks"`
	CDROMs []string `yaml:"cdroms,omitempty" json:"cdroms,omitempty" jsonschema_description:"ISO images attached as CD-ROMs (relative to the state directory unless absolute)"`
	// Kernel, Initrd and Append boot a kernel directly.
	Kernel string `yaml:"kernel,omitempty" json:"kernel,omitempty" jsonschema_description:"Kernel to boot directly (relative to the state directory unless absolute)"`
	Initrd string `yaml:"initrd,omitempty" json:"initrd,omitempty" jsonschema_description:"Initrd for the directly booted kernel"`
	Append string `yaml:"append,omitempty" json:"append,omitempty" jsonschema_description:"Command line for the directly booted kernel"`
	// Boot is the boot order in QEMU's letters (c disk, d cdrom, n net).
	Boot string `yaml:"boot,omitempty" json:"boot,omitempty" jsonschema:"pattern=^[cdn]*$" jsonschema_description:"Boot order in QEMU's letters: c disk, d cdrom, n network"`
	NICs []NIC  `yaml:"nics,omitempty" json:"nics,omitempty" jsonschema:"maxItems=32" jsonschema_description:"Network ports on the bridge (one TAP each)"`
	// VNC gives the VM a screen. It is a number for the configs written
	// when it was a display number (5900+N on every address); the number
	// is still accepted, 0 included, and opens no port: the screen is
	// served by the API only (GET /v1/vms/NAME/vnc, nucbox vnc NAME).
	VNC       *int       `yaml:"vnc,omitempty" json:"vnc,omitempty" jsonschema:"minimum=0,maximum=99" jsonschema_description:"Give the VM a screen (any number 0-99; kept from when it was a display number): reachable only through the API (nucbox vnc NAME, the web page), never on a TCP port"`
	CloudInit *CloudInit `yaml:"cloud-init,omitempty" json:"cloud-init,omitempty" jsonschema_description:"Attach a NoCloud seed; {} attaches one with the generated meta-data and network-config only"`
	Restart   Restart    `yaml:"restart,omitempty" json:"restart,omitempty" jsonschema:"enum=always,enum=on-failure,enum=never" jsonschema_description:"Restart policy (default always)"`
	// ShutdownTimeout is how long an ACPI powerdown may take before quit.
	ShutdownTimeout Duration `yaml:"shutdown-timeout,omitempty" json:"shutdown-timeout,omitempty" jsonschema_description:"Grace period for ACPI powerdown before QEMU is quit (default 60s)"`
}

// Disk is one virtio disk of a VM.
type Disk struct {
	// Path is relative to the state directory unless absolute.
	Path string `yaml:"path" json:"path" jsonschema:"required" jsonschema_description:"Disk image (relative to the state directory unless absolute); unique on the box"`
	// Size creates (or grows) the disk to this size.
	Size Size `yaml:"size,omitempty" json:"size,omitempty" jsonschema_description:"Create the disk with (or grow it to) this size"`
	// Backing is a base image for a qcow2 overlay.
	Backing string `yaml:"backing,omitempty" json:"backing,omitempty" jsonschema_description:"Base image for a qcow2 overlay (relative to the state directory unless absolute)"`
	// Format is qcow2 (default) or raw.
	Format   string `yaml:"format,omitempty" json:"format,omitempty" jsonschema:"enum=qcow2,enum=raw" jsonschema_description:"Image format (default qcow2)"`
	ReadOnly bool   `yaml:"read-only,omitempty" json:"read-only,omitempty" jsonschema_description:"Attach the disk read-only"`
}

// CloudInit is a NoCloud seed attached to a VM.
type CloudInit struct {
	UserData string `yaml:"user-data,omitempty" json:"user-data,omitempty" jsonschema_description:"user-data file contents such as #cloud-config ..."`
	// MetaData is merged over the generated instance-id and hostname.
	MetaData string `yaml:"meta-data,omitempty" json:"meta-data,omitempty" jsonschema_description:"meta-data merged over the generated instance-id and local-hostname"`
}

// Container is one OCI container.
type Container struct {
	Name string `yaml:"name" json:"name" jsonschema:"required,pattern=^[a-z0-9]([-a-z0-9]{0\\,30}[a-z0-9])?$" jsonschema_description:"Unique workload name (lower-case letters, digits and dashes, at most 32)"`
	// Image is a registry reference, oci-layout:DIR[:TAG] or
	// docker-archive:FILE; see ParseImage.
	Image      string            `yaml:"image" json:"image" jsonschema:"required,minLength=1" jsonschema_description:"Registry reference such as docker.io/library/nginx:1.27, or oci-layout:DIR[:TAG], or docker-archive:FILE"`
	Entrypoint []string          `yaml:"entrypoint,omitempty" json:"entrypoint,omitempty" jsonschema_description:"Overrides the image's entrypoint"`
	Command    []string          `yaml:"command,omitempty" json:"command,omitempty" jsonschema_description:"Overrides the image's cmd"`
	Env        map[string]string `yaml:"env,omitempty" json:"env,omitempty" jsonschema_description:"Environment variables added to the image's (values are strings: quote numbers)"`
	WorkDir    string            `yaml:"workdir,omitempty" json:"workdir,omitempty" jsonschema_description:"Overrides the image's working directory"`
	User       string            `yaml:"user,omitempty" json:"user,omitempty" jsonschema_description:"Overrides the image's user (name or uid[:gid])"`
	NICs       []NIC             `yaml:"nics,omitempty" json:"nics,omitempty" jsonschema:"maxItems=32" jsonschema_description:"Network ports on the bridge (one veth pair each; eth0 and up inside)"`
	Memory     Size              `yaml:"memory,omitempty" json:"memory,omitempty" jsonschema_description:"Memory limit such as 256MiB (default 1GiB)"`
	// CPUs is a CPU quota in cores (0.5 = half a core).
	CPUs        float64  `yaml:"cpus,omitempty" json:"cpus,omitempty" jsonschema:"exclusiveMinimum=0" jsonschema_description:"CPU quota in cores such as 0.5 (default: none)"`
	PIDs        int      `yaml:"pids,omitempty" json:"pids,omitempty" jsonschema:"minimum=1" jsonschema_description:"Maximum number of processes and threads (default 1024)"`
	Volumes     []Volume `yaml:"volumes,omitempty" json:"volumes,omitempty" jsonschema_description:"Bind mounts from the state directory"`
	Restart     Restart  `yaml:"restart,omitempty" json:"restart,omitempty" jsonschema:"enum=always,enum=on-failure,enum=never" jsonschema_description:"Restart policy (default on-failure)"`
	StopTimeout Duration `yaml:"stop-timeout,omitempty" json:"stop-timeout,omitempty" jsonschema_description:"Grace period between SIGTERM and SIGKILL (default 10s)"`
}

// Volume bind-mounts a directory of the state directory into a container.
type Volume struct {
	Source   string `yaml:"source" json:"source" jsonschema:"required,minLength=1" jsonschema_description:"Directory relative to the state directory (or absolute)"`
	Target   string `yaml:"target" json:"target" jsonschema:"required,pattern=^/" jsonschema_description:"Absolute path inside the container"`
	ReadOnly bool   `yaml:"read-only,omitempty" json:"read-only,omitempty" jsonschema_description:"Mount read-only"`
}

// Registry holds credentials for one registry host.
type Registry struct {
	Host     string `yaml:"host" json:"host" jsonschema:"required,minLength=1" jsonschema_description:"Registry host[:port] as it appears in image references (docker.io for Docker Hub)"`
	Username string `yaml:"username,omitempty" json:"username,omitempty" jsonschema_description:"User name (needs password)"`
	Password string `yaml:"password,omitempty" json:"password,omitempty" jsonschema_description:"Password or token (needs username)"`
}

// API configures the management API.
type API struct {
	// Listen is a TCP address for the TLS API, such as :8443; empty keeps
	// the API on the local unix socket only.
	Listen string `yaml:"listen,omitempty" json:"listen,omitempty" jsonschema_description:"TCP address for the TLS API such as :8443 (default: local unix socket only)"`
	// Token is the bearer token; generated on first boot when empty.
	Token string `yaml:"token,omitempty" json:"token,omitempty" jsonschema:"minLength=16" jsonschema_description:"Bearer token of at least 16 characters (default: generated on first boot)"`
	// PublicStatus opens read-only status without a token.
	PublicStatus bool `yaml:"public-status,omitempty" json:"public-status,omitempty" jsonschema_description:"Serve read-only status without a token"`
	// VLANs opens the TLS API (status page and metrics included) to the
	// workloads on these VLANs, at the box's address there. Elsewhere
	// only the lab network reaches it.
	VLANs []int `yaml:"vlans,omitempty" json:"vlans,omitempty" jsonschema_description:"VLANs whose workloads may reach the TLS API at the box's address there (each needs a box address in uplink.addresses); by default only the lab network reaches it"`
	// SessionLifetime and SessionIdle end a web page login: at the
	// latest after SessionLifetime, and after SessionIdle without a
	// request. A session also ends when the token it logged in with is
	// no longer the box's.
	SessionLifetime Duration `yaml:"session-lifetime,omitempty" json:"session-lifetime,omitempty" jsonschema_description:"How long a web page login lasts at most (default 12h)"`
	SessionIdle     Duration `yaml:"session-idle,omitempty" json:"session-idle,omitempty" jsonschema_description:"How long a web page login lasts without a request (default 1h)"`
}

// Reserve is kept from the workloads for the box itself: all of them live
// in one cgroup whose limits are the box's memory and process count minus
// the reserve.
type Reserve struct {
	Memory Size `yaml:"memory,omitempty" json:"memory,omitempty" jsonschema_description:"Memory the workloads together cannot use (default 256MiB)"`
	PIDs   int  `yaml:"pids,omitempty" json:"pids,omitempty" jsonschema:"minimum=1" jsonschema_description:"Processes and threads the workloads together cannot use (default 512)"`
	// PID1Memory is PID 1's soft memory limit (the Go runtime's
	// GOMEMLIMIT): above it the runtime collects garbage harder and
	// returns freed memory to the kernel at once.
	PID1Memory Size `yaml:"pid1-memory,omitempty" json:"pid1-memory,omitempty" jsonschema_description:"PID 1's own soft memory limit, within the reserve: above it PID 1 collects garbage harder and returns memory to the kernel (default 64MiB)"`
}

// Restart is a workload restart policy.
type Restart string

// Restart policies.
const (
	RestartAlways    Restart = "always"
	RestartOnFailure Restart = "on-failure"
	RestartNever     Restart = "never"
)

// Time names the NTP servers the box sets its clock from. Without any, it
// asks those its uplink's DHCP lease names (option 42), else the public
// pool. Serve makes the box an NTP server for its internal VLANs.
type Time struct {
	Servers []string `yaml:"servers,omitempty" json:"servers,omitempty" jsonschema_description:"NTP servers as host or host:port (default: the DHCP lease's, else pool.ntp.org)"`
	Serve   bool     `yaml:"serve,omitempty" json:"serve,omitempty" jsonschema_description:"Serve NTP on the box's internal VLAN addresses (never on the uplink) and send it as DHCP option 42 there"`
}

// Logging sends the box's log and every workload's output to a syslog
// server.
type Logging struct {
	Remote string `yaml:"remote,omitempty" json:"remote,omitempty" jsonschema_description:"Syslog server as udp://HOST[:514], tcp://HOST[:514] or tcp+tls://HOST[:6514] (RFC 5424 messages)"`
	Buffer Size   `yaml:"buffer,omitempty" json:"buffer,omitempty" jsonschema_description:"Messages kept while the server is unreachable, oldest dropped first (default 2MiB, at most 32MiB)"`
}
