package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// WorkloadAction is what POST /v1/workloads/{name}/{action} does.
type WorkloadAction string

// Workload actions. Stop stops a workload and keeps it stopped (its
// restart policy does not start it again, nor does an apply of the same
// config) until Start; Restart stops it if it runs and starts it, and
// counts as a restart.
const (
	WorkloadStart   WorkloadAction = "start"
	WorkloadStop    WorkloadAction = "stop"
	WorkloadRestart WorkloadAction = "restart"
)

// WorkloadController is implemented by a Box whose workloads can be
// started and stopped one by one. A Box without it answers the workload
// endpoints with 501.
type WorkloadController interface {
	// Control runs action on the named workload and returns the
	// workload's state after it. It waits for a stop to complete, and
	// for a start to be under way. It returns ErrNoWorkload for a name
	// that is neither a VM nor a container of the running config.
	Control(ctx context.Context, name string, action WorkloadAction) (Workload, error)
}

// ErrNoWorkload is the error for a workload name the box does not run;
// the API answers it with 404.
var ErrNoWorkload = errors.New("no such workload")

// ErrHeld wraps the refusal to start a workload the box holds (its files
// are on a data partition that is not mounted); the API answers it with
// 409 and the reason.
var ErrHeld = errors.New("held")

// WorkloadResponse answers a workload action.
type WorkloadResponse struct {
	Action   WorkloadAction `json:"action"`
	Workload Workload       `json:"workload"`
}

func (s *Server) handleWorkload(w http.ResponseWriter, r *http.Request) {
	name, action := r.PathValue("name"), WorkloadAction(r.PathValue("action"))
	switch action {
	case WorkloadStart, WorkloadStop, WorkloadRestart:
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown workload action %q: use start, stop or restart", action))
		return
	}
	wc, ok := s.box.(WorkloadController)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this box cannot start or stop single workloads")
		return
	}
	s.logf("api: %s %s (request from %s)", action, name, who(r))
	wl, err := wc.Control(r.Context(), name, action)
	switch {
	case errors.Is(err, ErrNoWorkload):
		writeError(w, http.StatusNotFound, noWorkload(name))
	case errors.Is(err, ErrBusy), errors.Is(err, ErrNotReady), errors.Is(err, ErrHeld):
		writeError(w, http.StatusConflict, err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		writeJSON(w, http.StatusOK, WorkloadResponse{Action: action, Workload: wl})
	}
}

// noWorkload is the message for an unknown workload name.
func noWorkload(name string) string {
	return fmt.Sprintf("no VM or container named %q runs on this box (nucbox status lists them)", name)
}
