package api

import (
	"bytes"
	"errors"
	"net/http"
	"time"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/config/plan"
)

// Applier is implemented by a Box that can change its config while it
// runs. A Box without it answers the apply endpoints with 501, so the
// read-only parts of the API work on their own.
type Applier interface {
	// Apply validates data, applies it and returns the new config's
	// SHA-256. With try > 0 the box goes back to the previous config
	// unless Confirm is called within try.
	Apply(name string, data []byte, try time.Duration) (ApplyResult, error)
	// Confirm keeps the config of the pending try.
	Confirm() (TryState, error)
}

// ApplyResult is what an apply did.
type ApplyResult struct {
	// Previous is the config the box ran before, Config the one it runs.
	Previous string `json:"previous,omitempty"`
	Config   string `json:"config"`
	// Try is set when the apply waits for a confirmation.
	Try *TryState `json:"try,omitempty"`
}

// TryState is an apply on trial: Config runs until Deadline, then the
// box goes back to Previous unless the apply was confirmed.
type TryState struct {
	Config   string    `json:"config"`
	Previous string    `json:"previous"`
	Deadline time.Time `json:"deadline"`
}

// Errors an Applier returns for requests that conflict with the box's
// state; the API answers them with 409.
var (
	ErrBusy     = errors.New("an apply or a try is in progress")
	ErrNotReady = errors.New("the box is not ready")
	ErrNoTry    = errors.New("no apply is waiting for a confirmation")
)

// ApplyResponse is POST /v1/apply after a successful apply.
type ApplyResponse struct {
	PlanResponse
	Result ApplyResult `json:"result"`
}

// ConfigError is a posted config that does not validate; an Applier
// returns it for the API to answer 422 with each problem.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// maxTry bounds a try: a box waiting for a day to roll back is a box
// someone forgot.
const maxTry = 24 * time.Hour

// handleApply validates the posted config, diffs it like /v1/plan and
// applies it. The diff is taken before the apply, against the config the
// box ran then.
func (s *Server) handleApply(w http.ResponseWriter, r *http.Request) {
	ap, ok := s.box.(Applier)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this box cannot apply a config while it runs")
		return
	}
	var try time.Duration
	if v := r.URL.Query().Get("try"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > maxTry {
			writeError(w, http.StatusBadRequest, "try: want a duration between 1s and 24h, such as 2m")
			return
		}
		try = d
	}
	name, data, ok := readConfigBody(w, r)
	if !ok {
		return
	}
	pr, ok := s.plan(w, name, data)
	if !ok {
		return
	}
	res, err := ap.Apply(name, data, try)
	if err != nil {
		writeApplyError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ApplyResponse{PlanResponse: pr, Result: res})
}

func (s *Server) handleConfirm(w http.ResponseWriter, r *http.Request) {
	ap, ok := s.box.(Applier)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this box cannot apply a config while it runs")
		return
	}
	t, err := ap.Confirm()
	if err != nil {
		writeApplyError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func writeApplyError(w http.ResponseWriter, err error) {
	var ce *ConfigError
	switch {
	case errors.As(err, &ce):
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: "the config is not valid", Errors: errorLines(ce.Err)})
	case errors.Is(err, ErrBusy), errors.Is(err, ErrNotReady), errors.Is(err, ErrNoTry):
		writeError(w, http.StatusConflict, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// plan validates data and diffs it against the running config, writing
// the error answer itself when it returns false.
func (s *Server) plan(w http.ResponseWriter, name string, data []byte) (PlanResponse, bool) {
	next, err := config.Parse(name, data)
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: "the config is not valid", Errors: errorLines(err)})
		return PlanResponse{}, false
	}
	var running *config.Config
	resp := PlanResponse{New: sha(data)}
	if c, ok := s.box.RunningConfig(); ok {
		resp.Running = c.SHA256
		// The running config was valid when the box read it; if it no
		// longer parses (a newer binary with stricter rules), the diff is
		// against nothing rather than refused.
		running, _ = config.Parse(c.Source, []byte(c.Text))
	}
	d := plan.Diff(running, next)
	text, err := DiffText(d)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return PlanResponse{}, false
	}
	resp.Empty, resp.Delta, resp.Text = d.Empty(), d, text
	return resp, true
}

// DiffText redacts d's secrets and renders it as text, for answers and
// for the boot log alike: both are read by more people than the config.
func DiffText(d *plan.Delta) (string, error) {
	redact(d)
	var b bytes.Buffer
	err := d.WriteText(&b)
	return b.String(), err
}
