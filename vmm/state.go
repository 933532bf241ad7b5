package vmm

import (
	"fmt"
	"path/filepath"
)

// Paths are the files of one guest under <state-dir>/vms/<name>/. They are
// fixed by the VM name alone so that a restarted nucbox finds the disks,
// logs and a stale QMP socket of the previous run.
type Paths struct {
	Dir     string // <state-dir>/vms/<name>
	Seed    string // cloud-init NoCloud seed ISO, rebuilt at every start
	Serial  string // serial console log, appended across restarts
	QEMULog string // QEMU's own messages and each start's argv
	QMP     string // QMP unix socket
	// Screen holds the VNC socket of a guest with a display: QEMU makes
	// the socket itself (-vnc takes no descriptor), and an unprivileged
	// QEMU cannot write Dir, so Screen is the one directory it owns.
	Screen string
	VNC    string // VNC unix socket, in Screen
	PID    string // pid of the running QEMU, for humans and rescue shells
}

// maxSocketPath is sun_path's size minus the terminating NUL: a longer QMP
// or VNC path cannot be bound by QEMU, and its error message does not say
// why. The VNC path is the longer of the two, so checking it checks both.
const maxSocketPath = 107

// PathsFor returns the layout of guest name under stateDir.
func PathsFor(stateDir, name string) Paths {
	dir := filepath.Join(stateDir, "vms", name)
	return Paths{
		Dir:     dir,
		Seed:    filepath.Join(dir, "seed.iso"),
		Serial:  filepath.Join(dir, "serial.log"),
		QEMULog: filepath.Join(dir, "qemu.log"),
		QMP:     filepath.Join(dir, "qmp.sock"),
		Screen:  filepath.Join(dir, "screen"),
		VNC:     filepath.Join(dir, "screen", "vnc.sock"),
		PID:     filepath.Join(dir, "pid"),
	}
}

func checkSocketPath(p string) error {
	if len(p) > maxSocketPath {
		return fmt.Errorf("socket path %s is %d bytes, longer than a unix socket allows (%d): use a shorter state-dir", p, len(p), maxSocketPath)
	}
	return nil
}
