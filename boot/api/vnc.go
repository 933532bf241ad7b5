package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Screener is implemented by a Box whose VMs have screens. A Box without
// it answers the screen endpoint with 501.
type Screener interface {
	// OpenVNC connects to the named VM's VNC server: the stream carries
	// RFB as QEMU speaks it, from its "RFB 003.008" banner on. It returns
	// ErrNoWorkload for a name that is not a VM, ErrNoDisplay for a VM
	// without a screen and ErrNotRunning when the VM has no running QEMU.
	OpenVNC(name string) (io.ReadWriteCloser, error)
}

// ErrNoDisplay is returned for the screen of a VM configured without
// one; the API answers it with 404.
var ErrNoDisplay = errors.New("the VM has no display")

// VNCPath is the route of a VM's screen.
func VNCPath(vm string) string { return "/v1/vms/" + vm + "/vnc" }

// handleVNC serves a VM's screen: GET /v1/vms/{name}/vnc upgraded to a
// WebSocket that carries the RFB bytes of QEMU's VNC server (on its unix
// socket; QEMU listens on no TCP port) as binary messages. noVNC speaks
// it as it is; nucbox vnc turns it back into a TCP port on the
// operator's machine for a native viewer. VNC's own authentication is
// "none": the API's token is what guards the screen.
func (s *Server) handleVNC(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	sc, ok := s.box.(Screener)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this box has no VM screens")
		return
	}
	if !isWebSocket(r) {
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		writeError(w, http.StatusUpgradeRequired, "a VM's screen is a WebSocket carrying RFB (subprotocol "+BinarySubprotocol+"): open it with the web page, noVNC or nucbox vnc "+name)
		return
	}
	vnc, err := sc.OpenVNC(name)
	switch {
	case errors.Is(err, ErrNoWorkload):
		writeError(w, http.StatusNotFound, fmt.Sprintf("no VM named %q runs on this box (nucbox status lists them)", name))
		return
	case errors.Is(err, ErrNoDisplay):
		writeError(w, http.StatusNotFound, fmt.Sprintf("%q has no screen (a VM has one with vnc: in the config)", name))
		return
	case errors.Is(err, ErrNotRunning):
		writeError(w, http.StatusConflict, fmt.Sprintf("VM %q is not running (nucbox start %s)", name, name))
		return
	case err != nil:
		writeError(w, http.StatusBadGateway, fmt.Sprintf("the screen of VM %q does not answer: %v", name, err))
		return
	}
	s.serveWebSocket(w, r, "screen of "+name, vnc)
}
