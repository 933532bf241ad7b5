package box

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"

	"github.com/nucbox/nucbox/boot/api"
)

// Summary is the JSON printed on the ready line: what runs, which config,
// and the boot timeline, in milliseconds since the kernel started (the
// clock of the kernel's own console timestamps).
type Summary struct {
	Hostname string `json:"hostname"`
	// Config is the SHA-256 of the config file's bytes.
	Config       string `json:"config"`
	ConfigSource string `json:"config_source"`
	// InitMS is when PID 1 was first exec'd, ReadyMS when it got ready.
	InitMS  int64 `json:"init_ms"`
	ReadyMS int64 `json:"ready_ms"`
	// EntropyReadyMS is when the kernel's random pool became ready, and
	// EntropySeed whether the data partition's seed was credited, only
	// mixed in, or not there (none).
	EntropyReadyMS int64  `json:"entropy_ready_ms"`
	EntropySeed    string `json:"entropy_seed,omitempty"`
	// RSSKiB is PID 1's resident memory at ready.
	RSSKiB int64 `json:"rss_kib"`
	// Modules is how many kernel modules are loaded.
	Modules int `json:"modules"`
	// Root is how / came to be: initramfs-bind (the initramfs bind-mounted
	// onto itself, so pivot_root works), initramfs (it stayed, and
	// containers refuse to start), or the filesystem type of another root.
	Root       string `json:"root"`
	VMs        int    `json:"vms"`
	Containers int    `json:"containers"`
	// Network is the uplink, bridge and addresses after the network
	// stage, with the takeover's outage and probe.
	Network *NetworkSummary `json:"network,omitempty"`
	// Guests are the VMs with their state; a VM that failed is listed
	// with its error while the box is ready.
	Guests []GuestSummary `json:"guests,omitempty"`
	// Data is the data partition: where it is mounted and how full, or
	// why it is not.
	Data *api.DataPartition `json:"data_partition,omitempty"`
}

// JSON renders the summary on one line.
func (s Summary) JSON() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// GuestSummary is one VM in the ready summary.
type GuestSummary struct {
	Name  string `json:"name"`
	State string `json:"state"`
	Accel string `json:"accel,omitempty"`
	PID   int    `json:"pid,omitempty"`
	// StartMS is QEMU's time from exec to QMP "running".
	StartMS  int64  `json:"start_ms,omitempty"`
	Restarts int    `json:"restarts,omitempty"`
	Error    string `json:"error,omitempty"`
}

// ContainerSummary is one container as the ready summary would list it.
type ContainerSummary struct {
	Name  string `json:"name"`
	State string `json:"state"`
	PID   int    `json:"pid,omitempty"`
	// StartMS is the time from the start (image lookup included) to the
	// process running.
	StartMS  int64  `json:"start_ms,omitempty"`
	Restarts int    `json:"restarts,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Status is the box's state for the API and the console.
type Status struct {
	Phase   string   `json:"phase"` // booting, ready, maintenance, failed, shutting down
	Stage   string   `json:"stage,omitempty"`
	Errors  []string `json:"errors,omitempty"`
	Summary *Summary `json:"summary,omitempty"`
}

// ConfigRecord is a config as the box got it: where from, its bytes and
// their SHA-256.
type ConfigRecord struct {
	Source string
	Data   []byte
	SHA256 string
}

// NewConfigRecord records data, read from source.
func NewConfigRecord(source string, data []byte) ConfigRecord {
	sum := sha256.Sum256(data)
	return ConfigRecord{Source: source, Data: data, SHA256: hex.EncodeToString(sum[:])}
}

// StageError is a stage's failure.
type StageError struct {
	Stage string
	Err   error
}

func (e *StageError) Error() string { return e.Stage + ": " + e.Err.Error() }
func (e *StageError) Unwrap() error { return e.Err }

// ErrShuttingDown is returned when a shutdown came first: by ApplyConfig
// and Ready at boot, and by a live apply.
var ErrShuttingDown = errors.New("the box is shutting down")

// rssKiB returns this process's resident set size.
func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
