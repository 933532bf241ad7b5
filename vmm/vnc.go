package vmm

import (
	"errors"
	"net"
	"os"
	"time"
)

// A guest's screen is QEMU's VNC server on a unix socket in the guest's
// screen directory (Paths.VNC), never on a TCP port: the box's own network, its
// VLANs and its workloads cannot reach it. Access goes through nucbox
// (the API's authenticated WebSocket), which opens the socket with
// OpenVNC. The socket carries plain RFB with no VNC password; the
// screen directory's mode keeps everyone but root and QEMU away from it.

// ErrNoDisplay is returned by OpenVNC for a guest configured without a
// screen.
var ErrNoDisplay = errors.New("the VM has no display (set vnc in its config)")

// vncDialTimeout bounds connecting to QEMU's socket: QEMU accepts at
// once unless it is wedged.
const vncDialTimeout = 5 * time.Second

// OpenVNC connects to the running guest's VNC server. The connection
// carries RFB as QEMU speaks it, from its "RFB 003.008" banner on; it
// ends when QEMU exits. It fails with ErrNoDisplay for a guest without a
// display and ErrNotRunning while no QEMU runs.
func (g *Guest) OpenVNC() (net.Conn, error) {
	if !g.spec.HasDisplay() {
		return nil, ErrNoDisplay
	}
	g.mu.Lock()
	running := g.cur != nil
	g.mu.Unlock()
	if !running {
		return nil, ErrNotRunning
	}
	return net.DialTimeout("unix", g.spec.Paths().VNC, vncDialTimeout)
}

// screenDir makes the directory QEMU creates the VNC socket in: QEMU's
// own (0700) when it runs as u, root's otherwise. Only root (nucbox) and
// that QEMU can reach the socket. A socket left by an earlier QEMU goes,
// or QEMU's bind would fail on it.
func screenDir(p Paths, u *User) error {
	if err := os.MkdirAll(p.Screen, 0o700); err != nil {
		return err
	}
	uid, gid := 0, 0
	if u != nil {
		uid, gid = int(u.UID), int(u.GID)
	}
	if err := chownMode(p.Screen, uid, gid, 0o700); err != nil {
		return err
	}
	if err := os.Remove(p.VNC); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
