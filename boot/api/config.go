package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/config/plan"
)

// maxConfig bounds a posted config: PID 1 holds it in memory.
const maxConfig = 1 << 20

// PlanResponse is POST /v1/plan for a valid config.
type PlanResponse struct {
	// Running and New are the SHA-256 of the running and posted configs.
	Running string      `json:"running,omitempty"`
	New     string      `json:"new"`
	Empty   bool        `json:"empty"`
	Delta   *plan.Delta `json:"delta"`
	Text    string      `json:"text"`
}

func (s *Server) handleConfig(w http.ResponseWriter, r *http.Request) {
	c, ok := s.box.RunningConfig()
	if !ok {
		writeError(w, http.StatusNotFound, "the box has not read a config")
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// handlePlan validates the posted config and diffs it against the running
// one. Invalid configs get 422 with every problem, one per line, as the
// loader reports them.
func (s *Server) handlePlan(w http.ResponseWriter, r *http.Request) {
	name, data, ok := readConfigBody(w, r)
	if !ok {
		return
	}
	resp, ok := s.plan(w, name, data)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// readConfigBody reads a posted config and the file name its errors should
// carry (?name=, default config.yaml). On false the error was written.
func readConfigBody(w http.ResponseWriter, r *http.Request) (name string, data []byte, ok bool) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxConfig+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "reading the config: "+err.Error())
		return "", nil, false
	}
	if len(data) > maxConfig {
		writeError(w, http.StatusRequestEntityTooLarge, "the config is larger than 1 MiB")
		return "", nil, false
	}
	name = r.URL.Query().Get("name")
	if name == "" {
		name = "config.yaml"
	}
	return name, data, true
}

// redact hides secrets that a diff would show in clear text: the API
// token and registry passwords, also inside a whole registry entry that
// was added or removed.
func redact(d *plan.Delta) {
	for _, cs := range [][]plan.Change{d.Box, d.Network} {
		for i := range cs {
			c := &cs[i]
			if c.Path == "api.token" || strings.HasSuffix(c.Path, ".password") {
				c.Old, c.New = hideValue(c.Old, "(secret)"), hideValue(c.New, "(secret, changed)")
				continue
			}
			c.Old, c.New = hidePassword(c.Old), hidePassword(c.New)
		}
	}
}

func hideValue(v, with string) string {
	if v == "" {
		return ""
	}
	return with
}

// hidePassword masks the password of a registry entry written as JSON.
func hidePassword(v string) string {
	if !strings.HasPrefix(v, "{") || !strings.Contains(v, `"password"`) {
		return v
	}
	var m map[string]any
	if json.Unmarshal([]byte(v), &m) != nil {
		return "(secret)"
	}
	m["password"] = "(secret)"
	b, _ := json.Marshal(m)
	return string(b)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// errorLines gives one line per problem of a config error.
func errorLines(err error) []string {
	var list config.ErrorList
	if errors.As(err, &list) {
		out := make([]string, 0, len(list))
		for _, e := range list {
			out = append(out, e.Error())
		}
		return out
	}
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
