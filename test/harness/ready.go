package harness

import (
	"encoding/json"
	"fmt"

	"github.com/nucbox/nucbox/boot/box"
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

// ReadyInfo is the JSON summary PID 1 prints on its ready line: the box
// supervisor's own Summary type, so the two cannot drift apart, plus the
// decoded object for fields a test wants before they have a Go name.
type ReadyInfo struct {
	box.Summary
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
	ri.Line = js
	return ri, nil
}
