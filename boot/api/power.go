package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// PowerRequest is the body of POST /v1/power.
type PowerRequest struct {
	Action PowerAction `json:"action"`
}

// PowerResponse answers an accepted power request.
type PowerResponse struct {
	Action PowerAction `json:"action"`
	Status string      `json:"status"`
}

func (s *Server) handlePower(w http.ResponseWriter, r *http.Request) {
	var req PowerRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body must be JSON: {\"action\": \"poweroff\"} or {\"action\": \"reboot\"}")
		return
	}
	if req.Action != PowerOff && req.Action != Reboot {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown action %q: use poweroff or reboot", req.Action))
		return
	}
	if err := s.box.Power(req.Action, "API request from "+who(r)); err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, PowerResponse{Action: req.Action, Status: "accepted"})
}

// who names a request's origin for the log.
func who(r *http.Request) string {
	if isLocal(r.Context()) {
		return "the local socket"
	}
	return r.RemoteAddr
}
