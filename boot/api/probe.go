package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// ProbeRequest is the body of POST /v1/probe: send one ICMP echo, TCP
// connect or DNS query from where a workload's traffic starts (From, a
// container's name) or from the box itself (From "box").
type ProbeRequest struct {
	From   string `json:"from"`
	Kind   string `json:"kind"` // ping, connect or resolve
	Target string `json:"target"`
	// Server is the DNS server a resolve asks; for a container the
	// default is the first name server of its /etc/resolv.conf.
	Server    string `json:"server,omitempty"`
	TimeoutMS int    `json:"timeout_ms,omitempty"`
}

// ProbeResult is its answer. OK false with Detail is a probe that ran and
// was not answered, the outcome an isolation check hopes for.
type ProbeResult struct {
	OK      bool     `json:"ok"`
	Detail  string   `json:"detail"`
	MS      float64  `json:"ms"`
	Answers []string `json:"answers,omitempty"`
	// Server is the DNS server a resolve asked.
	Server string `json:"server,omitempty"`
}

// Prober is a box that can probe from its workloads' networks.
type Prober interface {
	Probe(ctx context.Context, req ProbeRequest) (ProbeResult, error)
}

// ErrCannotProbe is a From the box cannot probe from, such as a VM (its
// network stack is inside the guest) or a stopped container.
var ErrCannotProbe = errors.New("cannot probe from there")

// ProbeError is a probe request that is wrong as asked.
type ProbeError struct{ Msg string }

func (e *ProbeError) Error() string { return e.Msg }

func (s *Server) handleProbe(w http.ResponseWriter, r *http.Request) {
	p, ok := s.box.(Prober)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this box cannot probe")
		return
	}
	var req ProbeRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, `body must be JSON: {"from": "web", "kind": "connect", "target": "10.0.10.5:80"}`)
		return
	}
	res, err := p.Probe(r.Context(), req)
	var pe *ProbeError
	switch {
	case errors.Is(err, ErrNoWorkload):
		writeError(w, http.StatusNotFound, noWorkload(req.From))
	case errors.Is(err, ErrCannotProbe):
		writeError(w, http.StatusConflict, err.Error())
	case errors.As(err, &pe):
		writeError(w, http.StatusBadRequest, pe.Msg)
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		s.logf("api: probe %s %s from %s: ok=%t %s (request from %s)", req.Kind, req.Target, req.From, res.OK, res.Detail, who(r))
		writeJSON(w, http.StatusOK, res)
	}
}

// Probe is POST /v1/probe.
func (c *Client) Probe(ctx context.Context, req ProbeRequest) (ProbeResult, error) {
	var res ProbeResult
	b, err := json.Marshal(req)
	if err != nil {
		return res, err
	}
	_, err = c.call(ctx, c.http, "POST", "/v1/probe", "application/json", b, &res, "the answer")
	if err != nil {
		return res, fmt.Errorf("probe %s %s from %s: %w", req.Kind, req.Target, req.From, err)
	}
	return res, nil
}
