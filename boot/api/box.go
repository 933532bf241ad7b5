package api

import (
	"context"
	"encoding/json"
	"time"
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
	// Details are kind-specific facts shown as they are: accelerator,
	// VNC port, image.
	Details map[string]string `json:"details,omitempty"`
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
	Config    *ConfigRef `json:"config,omitempty"`
	Links     []Link     `json:"links"`
	LinkError string     `json:"link_error,omitempty"`
	Workloads []Workload `json:"workloads"`
}

// ConfigRef names the running config without its text.
type ConfigRef struct {
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
}
