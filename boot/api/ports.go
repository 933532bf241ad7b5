package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrDisabledPort is a workload port a guard took out of forwarding, as
// a managed switch err-disables a port whose BPDU guard tripped: it
// forwards nothing either way until POST /v1/ports/{name}/enable or the
// workload's restart.
type ErrDisabledPort struct {
	// Port is the port as the config names it (WORKLOAD.N), Link its
	// bridge port.
	Port string `json:"port"`
	Link string `json:"link"`
	// Reason is the guard that tripped ("BPDU"), Source the MAC the
	// frame came from.
	Reason string    `json:"reason"`
	Source string    `json:"source,omitempty"`
	Since  time.Time `json:"since"`
}

// PortController is implemented by a Box whose ports can be enabled
// again. A Box without it answers the port endpoint with 501.
type PortController interface {
	// EnablePort puts the named port (WORKLOAD.N or its link) back into
	// forwarding and returns what had disabled it, nil when nothing had.
	// It returns ErrNoPort for a port the box does not have.
	EnablePort(name string) (*ErrDisabledPort, error)
}

// PortResponse answers POST /v1/ports/{name}/enable: Was is what had
// disabled the port, absent when it forwarded already.
type PortResponse struct {
	Port string           `json:"port"`
	Was  *ErrDisabledPort `json:"was,omitempty"`
}

func (s *Server) handlePortEnable(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	pc, ok := s.box.(PortController)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this box cannot enable ports")
		return
	}
	s.logf("api: enable port %s (request from %s)", name, who(r))
	was, err := pc.EnablePort(name)
	switch {
	case errors.Is(err, ErrNoPort):
		writeError(w, http.StatusNotFound, fmt.Sprintf("no workload port named %q on this box (WORKLOAD.N, such as web.0)", name))
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		writeJSON(w, http.StatusOK, PortResponse{Port: name, Was: was})
	}
}
