package workload

import (
	"time"

	"github.com/nucbox/nucbox/internal/cgroup"

	"github.com/nucbox/nucbox/netcfg"
)

// State is where a workload is in its life, as the API and the ready
// line show it.
type State string

// Workload states. A workload reports the states of its run; the pool
// adds backoff, and shows a workload held by a stop request as stopped.
const (
	// StatePulling: a container's image is being fetched.
	StatePulling State = "pulling"
	// StateStarting: files prepared, process starting.
	StateStarting State = "starting"
	// StateRunning: the run is under way.
	StateRunning State = "running"
	// StateBackoff: the run ended; the pool starts it again at NextStart.
	StateBackoff State = "backoff"
	// StateStopping: a stop is in progress.
	StateStopping State = "stopping"
	// StateStopped: stopped by nucbox, or a guest that powered itself
	// off and is not restarted.
	StateStopped State = "stopped"
	// StateExited: a container that ended and is not restarted.
	StateExited State = "exited"
	// StateFailed: ended with an error and not restarted, or a workload
	// whose config cannot work (see LastError).
	StateFailed State = "failed"
)

// Status is one workload, VM or container, as the API, the console and
// the ready line show it.
type Status struct {
	// Kind is "vm" or "container"; the pool fills it and Name in.
	Kind string
	Name string
	// Held is set while the workload is stopped on request: it stays
	// stopped, through applies, until a start request.
	Held  bool
	State State
	// PID is the workload's main process (QEMU, the container's first
	// process), 0 when none runs.
	PID int
	// Started is when the current process started, zero when none runs.
	Started time.Time
	// StartupTime is how long the last start took to reach running.
	StartupTime time.Duration
	// Restarts counts the starts after the first: by the restart policy
	// and on request.
	Restarts int
	// NextStart is when a workload in backoff is started again.
	NextStart time.Time
	// LastExit says how the last run ended ("exit status 0", "killed by
	// SIGKILL").
	LastExit string
	// LastError is the last failure, LastErrorAt when it happened.
	LastError   string
	LastErrorAt time.Time
	// Brief is what runs, in a few words for the console: a container's
	// image, a VM's accelerator.
	Brief     string
	Addresses []string
	// Leases are the DHCP leases of the workload's NICs.
	Leases []*netcfg.Lease
	// Details are kind-specific facts shown as they are: accelerator,
	// VNC port, image, digest.
	Details map[string]string
	// Limits are the workload's cgroup limits and how often it ran into
	// them, over all its runs; nil for a kind that has none.
	Limits *cgroup.Hits
}
