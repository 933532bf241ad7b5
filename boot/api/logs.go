package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// BootLog is the name of PID 1's own log.
const BootLog = "boot"

// LogsResponse is GET /v1/logs/{name} without follow.
type LogsResponse struct {
	Name  string    `json:"name"`
	Lines []LogLine `json:"lines"`
}

// handleLogs serves a log: JSON by default, and with ?follow=1 a stream
// of server-sent events, one "line" event per line with the line's JSON
// as data and its sequence number as id. ?tail=N limits the backlog.
func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	follow := r.URL.Query().Get("follow")
	following := follow == "1" || follow == "true"
	tail := -1
	if t := r.URL.Query().Get("tail"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "tail must be a non-negative number of lines")
			return
		}
		tail = n
	}
	lines, more, ok := s.box.Log(r.Context(), name, following)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no log named %q (the box's own log is %q)", name, BootLog))
		return
	}
	if tail >= 0 && len(lines) > tail {
		lines = lines[len(lines)-tail:]
	}
	if lines == nil {
		lines = []LogLine{}
	}
	if !following {
		writeJSON(w, http.StatusOK, LogsResponse{Name: name, Lines: lines})
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming is not supported on this connection")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(l LogLine) error {
		b, _ := json.Marshal(l)
		_, err := fmt.Fprintf(w, "id: %d\nevent: line\ndata: %s\n\n", l.Seq, b)
		return err
	}
	for _, l := range lines {
		if send(l) != nil {
			return
		}
	}
	fl.Flush()
	// A comment now and then keeps proxies and NAT from dropping a quiet
	// stream, and finds a client that left.
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case l, ok := <-more:
			if !ok {
				return
			}
			if send(l) != nil {
				return
			}
			fl.Flush()
		case <-keep.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
		}
	}
}
