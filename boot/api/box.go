package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nucbox/nucbox/boot/logship"
	"github.com/nucbox/nucbox/internal/cgroup"
	"github.com/nucbox/nucbox/netcfg/lldp"
	"github.com/nucbox/nucbox/netcfg/vlancheck"
	"github.com/nucbox/nucbox/vswitch"
)

// Box is the running appliance as the API sees it. PID 1 implements it;
// tests use a fake.
type Box interface {
	// State is PID 1's own state: phase, boot timeline, errors.
	State() BoxState
	// Workloads lists the VMs and containers with their state.
	Workloads() []Workload
	// RunningConfig is the config the box runs, false before one was read.
	RunningConfig() (ConfigInfo, bool)
	// Log returns the named log's recent lines and, when follow is set,
	// a channel of later lines that is closed when ctx ends. ok is false
	// for a log that does not exist.
	Log(ctx context.Context, name string, follow bool) (lines []LogLine, more <-chan LogLine, ok bool)
	// Power starts an orderly power off or reboot and returns at once.
	Power(a PowerAction, reason string) error
}

// WorkloadSource is implemented by what runs workloads (the VM and the
// container stages): the Box lists what every source reports.
type WorkloadSource interface {
	Workloads() []Workload
}

// PowerAction is how a power request ends.
type PowerAction string

// Power actions.
const (
	PowerOff PowerAction = "poweroff"
	Reboot   PowerAction = "reboot"
)

// BoxState is PID 1's state.
type BoxState struct {
	Hostname string `json:"hostname"`
	// Phase is booting, ready, failed or shutting down.
	Phase  string   `json:"phase"`
	Stage  string   `json:"stage,omitempty"`
	Errors []string `json:"errors,omitempty"`
	// Summary is the ready line's JSON (boot timeline in ms since the
	// kernel started, RSS, modules), absent before ready.
	Summary json.RawMessage `json:"summary,omitempty"`
	// Uptime is the time since the kernel started.
	Uptime Duration `json:"uptime"`
	// Try is an applied config waiting for its confirmation.
	Try *TryState `json:"try,omitempty"`
	// Slot is the boot slot the box runs from, absent when it did not
	// boot from a disk with slots (PXE, a direct kernel boot).
	Slot *SlotState `json:"boot_slot,omitempty"`
	// SecureBoot is "on" or "off" as the firmware said at boot; absent
	// when the box did not boot through UEFI.
	SecureBoot string `json:"secure_boot,omitempty"`
	// WorkloadLimits are the limits of the cgroup all workloads share
	// (what the box's reserve leaves them) and how often its own limits
	// were reached; absent without that cgroup.
	WorkloadLimits *LimitHits `json:"workload_limits,omitempty"`
	// Data is the data partition, absent before PID 1 looked for one.
	Data *DataPartition `json:"data_partition,omitempty"`
	// Time is the box's clock and where it was set from.
	Time *TimeState `json:"time,omitempty"`
	// PXE is the box as its rack's boot server, absent when it is none.
	PXE *PXEState `json:"pxe,omitempty"`
	// Neighbors are the uplink's LLDP neighbours: the switch port the
	// box is plugged into.
	Neighbors []lldp.Neighbor `json:"lldp_neighbors,omitempty"`
	// VLANCheck is whether the switch port carries each tagged VLAN of
	// the uplink, a verdict per VLAN; absent when the check is off or
	// the uplink has no tagged VLANs.
	VLANCheck []vlancheck.Result `json:"vlan_check,omitempty"`
	// Overlays are the tunnels carrying VLANs to other boxes, with
	// their remotes and the MACs learned over them.
	Overlays []vswitch.TunnelStatus `json:"overlays,omitempty"`
	// UplinkBond is the uplink bond: its active member and each
	// member's carrier.
	UplinkBond *vswitch.BondStatus `json:"uplink_bond,omitempty"`
	// Logging is the shipping of logs to a syslog server, absent
	// without one.
	Logging *logship.Status `json:"logging,omitempty"`
	// ErrDisabled are the workload ports a guard took out of
	// forwarding (ports.go).
	ErrDisabled []ErrDisabledPort `json:"err_disabled,omitempty"`
}

// TimeState is the box's clock: what it reads and its last NTP sync.
type TimeState struct {
	// Now is the box's clock when the status was made.
	Now time.Time `json:"now"`
	// Servers are the NTP servers it asks; Source says where they came
	// from: config, dhcp, command line, default.
	Servers []string `json:"servers,omitempty"`
	Source  string   `json:"source,omitempty"`
	// Synced is set once a server answered since boot.
	Synced bool `json:"synced"`
	// Server answered the last sync that worked, at At; Offset is how
	// far off the clock was then (seconds), and Stepped whether it
	// jumped rather than slewed.
	Server  string    `json:"server,omitempty"`
	Offset  Duration  `json:"offset,omitempty"`
	RTT     Duration  `json:"rtt,omitempty"`
	Stratum int       `json:"stratum,omitempty"`
	Stepped bool      `json:"stepped,omitempty"`
	At      time.Time `json:"at,omitzero"`
	// Error is the last sync's failure, cleared by a success.
	Error string `json:"error,omitempty"`
	// Serving are the box's addresses its NTP server answers on
	// (time.serve), as "ADDRESS on LINK"; Answered counts its replies.
	Serving  []string `json:"serving,omitempty"`
	Answered int64    `json:"answered,omitempty"`
}

// Data partition states.
const (
	// DataMounted: mounted read-write at MountPoint.
	DataMounted = "mounted"
	// DataNone: no data partition and no boot disk to make one on (PXE,
	// a direct kernel boot); the state directory lasts until power off.
	DataNone = "none"
	// DataNotMounted: a data partition exists but was not mounted (see
	// Reason); it was not formatted either, and the workloads whose
	// files are on it are held.
	DataNotMounted = "not mounted"
)

// DataPartition is the box's data partition: where it is, what it holds
// and, when it is not mounted, why.
type DataPartition struct {
	// State is DataMounted, DataNone or DataNotMounted.
	State string `json:"state"`
	// Device is the partition's node, empty when none was found.
	Device string `json:"device,omitempty"`
	// MountPoint is where it is mounted, or would be.
	MountPoint string `json:"mount_point"`
	FS         string `json:"fs,omitempty"`
	// Size is the filesystem's size, Free what is left for files, both
	// read when asked; Size is the partition's while not mounted.
	Size int64 `json:"size_bytes,omitempty"`
	Free int64 `json:"free_bytes,omitempty"`
	// Note is what the boot did besides mounting: created, formatted,
	// grown, repaired from a backup superblock.
	Note string `json:"note,omitempty"`
	// RepairedFrom is the backup superblock (in filesystem blocks) the
	// primary was repaired from at this boot, 0 if none.
	RepairedFrom int64 `json:"repaired_from_block,omitempty"`
	// Reason is why a data partition is not mounted.
	Reason string `json:"reason,omitempty"`
}

// Workload is one VM or container.
type Workload struct {
	Kind  string `json:"kind"` // vm or container
	Name  string `json:"name"`
	State string `json:"state"`
	PID   int    `json:"pid,omitempty"`
	// Started is when the current process started, zero when none runs.
	Started     time.Time `json:"started,omitzero"`
	Restarts    int       `json:"restarts"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	Addresses   []string  `json:"addresses,omitempty"`
	// Leases are the DHCP leases of a container's NICs.
	Leases []Lease `json:"leases,omitempty"`
	// Held is set while the workload was stopped on request (nucbox
	// stop): it stays stopped until started again.
	Held bool `json:"held,omitempty"`
	// Details are kind-specific facts shown as they are: accelerator,
	// VNC port, image.
	Details map[string]string `json:"details,omitempty"`
	// Limits are the workload's memory and pids limits and how often it
	// ran into them, over all its runs: which container hit which limit.
	Limits *LimitHits `json:"limits,omitempty"`
}

// LimitHits are a cgroup's limits (limit: bytes or processes, absent for
// none) and the kernel's counts of running into them: memory max (the
// limit reached), oom (the OOM killer ran for it), oom_kill (processes
// it killed); pids max (forks refused).
type LimitHits = cgroup.Hits

// Lease is a DHCPv4 lease and the client's progress on it.
type Lease struct {
	// Link is the interface that holds the address.
	Link    string `json:"link"`
	Address string `json:"address"`
	Server  string `json:"server,omitempty"`
	Router  string `json:"router,omitempty"`
	// State is init, bound, renewing, rebinding or stopped.
	State    string    `json:"state"`
	Obtained time.Time `json:"obtained,omitzero"`
	// Renew (T1) is when the client asks its server to extend the lease,
	// Rebind (T2) when it asks any server; Expiry is the lease's end,
	// zero for an infinite lease.
	Renew     time.Time `json:"renew,omitzero"`
	Rebind    time.Time `json:"rebind,omitzero"`
	Expiry    time.Time `json:"expiry,omitzero"`
	Renewals  int       `json:"renewals,omitempty"`
	LastError string    `json:"last_error,omitempty"`
}

// LeaseSource is implemented by a Box that takes its own address by
// DHCP: the status shows the uplink's lease.
type LeaseSource interface {
	// UplinkLease is the box's own DHCP lease, nil without one.
	UplinkLease() *Lease
}

// Lease6Source is implemented by a Box that takes its IPv6 address by
// DHCPv6: the status shows that lease too.
type Lease6Source interface {
	// UplinkLease6 is the box's own DHCPv6 lease, nil without one.
	UplinkLease6() *Lease
}

// ServedLeaseSource is implemented by a Box that serves DHCP on its
// VLANs: the status and the metrics list the leases it gave.
type ServedLeaseSource interface {
	ServedLeases() []ServedLease
}

// ServedLease is one lease the box's DHCP server gave.
type ServedLease struct {
	VLAN    int    `json:"vlan"`
	MAC     string `json:"mac"`
	Address string `json:"address"`
	// Name is the workload the MAC belongs to; Hostname what the client
	// called itself.
	Name     string    `json:"name,omitempty"`
	Hostname string    `json:"hostname,omitempty"`
	Fixed    bool      `json:"fixed,omitempty"`
	Expires  time.Time `json:"expires"`
	Active   bool      `json:"active"`
}

// PXEState is the box as its rack's boot server (pxe-server).
type PXEState struct {
	VLAN      int    `json:"vlan"`
	Interface string `json:"interface,omitempty"`
	Address   string `json:"address"`
	// Mode is dhcp (boot options in the box's leases) or proxyDHCP.
	Mode    string `json:"mode"`
	Bundle  string `json:"bundle,omitempty"`
	Configs string `json:"configs"`
	// Error says why no machine is sent to boot from the box.
	Error    string       `json:"error,omitempty"`
	Machines []PXEMachine `json:"machines,omitempty"`
}

// PXEMachine is a machine the boot server heard from. One that asked for
// its config and had none runs in maintenance mode, waiting for one.
type PXEMachine struct {
	MAC       string    `json:"mac"`
	Address   string    `json:"address,omitempty"`
	Config    bool      `json:"config"`
	Asked     bool      `json:"asked,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Via       string    `json:"via"`
}

// Usage is a workload's resource use.
type Usage struct {
	// CPU is the CPU time used, in seconds.
	CPU float64
	// Memory is the memory in use, in bytes.
	Memory int64
}

// UsageSource is implemented by a Box that measures some workloads
// itself (a container's cgroup); for the others, and when ok is false,
// the metrics read the main process's /proc entry.
type UsageSource interface {
	WorkloadUsage(w Workload) (u Usage, ok bool)
}

// ConfigInfo is a config as the box read it.
type ConfigInfo struct {
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
	Text   string `json:"text"`
}

// LogLine is one log line.
type LogLine struct {
	Seq uint64 `json:"seq"`
	// Time is the time since boot, on the kernel log's clock.
	Time time.Duration `json:"time_ns"`
	Text string        `json:"text"`
}

// Duration marshals as seconds, the unit people and scripts read.
type Duration time.Duration

// MarshalJSON writes the duration as a number of seconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).Seconds())
}

// UnmarshalJSON reads a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*d = Duration(s * float64(time.Second))
	return nil
}

// Status is GET /v1/status.
type Status struct {
	BoxState
	Config *ConfigRef `json:"config,omitempty"`
	// UplinkLease is the box's own DHCP lease, absent with a static
	// address.
	UplinkLease *Lease `json:"uplink_lease,omitempty"`
	// UplinkLease6 is the box's own DHCPv6 lease, absent unless
	// uplink.ipv6 is dhcp.
	UplinkLease6 *Lease `json:"uplink_lease6,omitempty"`
	// ServedLeases are the leases the box's DHCP server gave on its
	// VLANs, expired ones included until their address is reused.
	ServedLeases []ServedLease `json:"served_leases,omitempty"`
	Links        []Link        `json:"links"`
	LinkError    string        `json:"link_error,omitempty"`
	// Switch is the bridges' MAC tables and the port policies' counters.
	Switch      *SwitchState `json:"switch,omitempty"`
	SwitchError string       `json:"switch_error,omitempty"`
	Workloads   []Workload   `json:"workloads"`
}

// ConfigRef names the running config without its text.
type ConfigRef struct {
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
}
