package vmm

import "time"

// State is where a guest is in its life.
type State string

// Guest states.
const (
	// StateStarting: preparing disks and seed, QEMU starting, QMP check.
	StateStarting State = "starting"
	// StateRunning: QEMU runs and its CPUs were released.
	StateRunning State = "running"
	// StateStopping: powerdown, quit or kill in progress.
	StateStopping State = "stopping"
	// StateStopped: not started yet, stopped by Stop, or the guest
	// powered itself off (QEMU exited 0).
	StateStopped State = "stopped"
	// StateFailed: the start failed, QEMU exited with an error, or the
	// config cannot work (see Status.LastError).
	StateFailed State = "failed"
)

// Status is a guest as the API shows it.
type Status struct {
	Name  string `json:"name"`
	State State  `json:"state"`
	// PID of the running QEMU, 0 when none.
	PID int `json:"pid,omitempty"`
	// Started is when the current QEMU was started.
	Started time.Time `json:"started,omitzero"`
	// Uptime of the current QEMU.
	Uptime time.Duration `json:"uptime,omitempty"`
	// StartupTime is the last start's time from exec to QMP "running".
	StartupTime time.Duration `json:"startup-time,omitempty"`
	// LastExit describes how the last QEMU ended.
	LastExit string `json:"last-exit,omitempty"`
	// StoppedBy is the shutdown step that ended the last stop: powerdown
	// (the guest shut down), quit or kill.
	StoppedBy string `json:"stopped-by,omitempty"`
	// LastError is the last failure and LastErrorAt when it happened. It
	// stays after the guest recovered: State says whether it runs now.
	LastError   string    `json:"last-error,omitempty"`
	LastErrorAt time.Time `json:"last-error-at,omitzero"`
	// Accel is the accelerator of the current or last start, and why.
	Accel       Accel  `json:"accel,omitempty"`
	AccelReason string `json:"accel-reason,omitempty"`
	// Display is set for a guest with a screen, which OpenVNC reaches
	// (there is no TCP port).
	Display bool `json:"display,omitempty"`
	// QMPStatus is QEMU's run state as QMP last reported it (prelaunch,
	// running, paused, shutdown, guest-panicked ...).
	QMPStatus   string `json:"qmp-status,omitempty"`
	QEMUVersion string `json:"qemu-version,omitempty"`
	// Warnings are problems that do not stop the guest, such as a state
	// directory in RAM or a disk larger than its configured size.
	Warnings []string `json:"warnings,omitempty"`
}
