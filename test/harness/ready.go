package harness

import (
	"encoding/json"
	"fmt"
)

// Console patterns of the boot contract. They are not anchored at the start
// of the line because the line may carry a kernel-style timestamp.
const (
	// ReadyPattern captures the JSON summary of the ready line.
	ReadyPattern = `nucbox: ready (\{.*\})\s*$`
	// FailedPattern captures the stage and message of a failed boot.
	FailedPattern = `nucbox: failed: ([^:]+): (.*)$`
	// ReadyOrFailedPattern lets a test stop waiting as soon as the boot
	// failed instead of running into the ready deadline.
	ReadyOrFailedPattern = `nucbox: (?:ready (\{.*\})\s*$|failed: (.*)$)`
	// RescuePattern is printed when PID 1 hands the console to the
	// rescue shell.
	RescuePattern = `nucbox: rescue shell on the console`
	// PoweringOffPattern is printed by PID 1 when it starts an orderly
	// shutdown.
	PoweringOffPattern = `nucbox: powering off`
	// ShellPromptPattern matches a shell prompt (busybox's "/ # " or a
	// PS1 ending the same way). It is not anchored at the end: a kernel
	// message may already have continued the prompt's line.
	ShellPromptPattern = `[#$] `
)

// ReadyInfo is the JSON summary PID 1 prints on its ready line. Fields the
// harness does not know yet are kept in Raw, so a test can check them before
// the harness grows a field for them.
type ReadyInfo struct {
	Hostname string `json:"hostname"`
	// Config is the SHA-256 of the config file PID 1 read, and
	// ConfigSource where it read it from.
	Config       string `json:"config"`
	ConfigSource string `json:"config_source"`
	// InitMS is the kernel's uptime when PID 1 was first exec'd, in ms.
	InitMS int64 `json:"init_ms"`
	// ReadyMS is the kernel's uptime when PID 1 declared itself ready.
	ReadyMS int64 `json:"ready_ms"`
	RSSKiB  int64 `json:"rss_kib"`
	// Modules is how many kernel modules were loaded; ModuleNames is
	// filled too when the summary lists them instead of counting them.
	Modules     int      `json:"-"`
	ModuleNames []string `json:"-"`
	// Root is the filesystem type of / after PID 1 moved off the
	// initramfs (tmpfs).
	Root string `json:"root"`

	Raw  map[string]any `json:"-"`
	Line string         `json:"-"` // the JSON text as printed
}

// ParseReady decodes the JSON of a ready line.
func ParseReady(js string) (ReadyInfo, error) {
	var ri ReadyInfo
	if err := json.Unmarshal([]byte(js), &ri); err != nil {
		return ReadyInfo{}, fmt.Errorf("ready summary is not the expected JSON: %w: %s", err, js)
	}
	if err := json.Unmarshal([]byte(js), &ri.Raw); err != nil {
		return ReadyInfo{}, fmt.Errorf("ready summary is not a JSON object: %w: %s", err, js)
	}
	switch v := ri.Raw["modules"].(type) {
	case float64:
		ri.Modules = int(v)
	case []any:
		ri.Modules = len(v)
		for _, n := range v {
			if s, ok := n.(string); ok {
				ri.ModuleNames = append(ri.ModuleNames, s)
			}
		}
	}
	ri.Line = js
	return ri, nil
}
