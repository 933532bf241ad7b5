package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/pprof"
	"strconv"
)

// PID 1's own profiles, for finding where its memory and goroutines go
// on a real box (`nucbox debug pprof heap > heap.pb.gz`, then `go tool
// pprof`). Only the runtime's profiles are offered, read from the
// running process: nothing is started or sampled in the background, so
// a box that nobody asks costs nothing. CPU profiles are left out on
// purpose: they run for seconds and would make PID 1 slower while they
// do.
var debugProfiles = map[string]bool{"heap": true, "allocs": true, "goroutine": true, "threadcreate": true}

// handleProfile serves GET /v1/debug/pprof/{profile}: the profile in
// pprof's protobuf format, or as text with ?debug=1 (or 2 for the
// goroutines' full stacks). ?gc=1 collects garbage first, so that the
// heap profile's in-use figures are current.
func (s *Server) handleProfile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("profile")
	p := pprof.Lookup(name)
	if p == nil || !debugProfiles[name] {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no profile %q (heap, allocs, goroutine, threadcreate)", name))
		return
	}
	debug, _ := strconv.Atoi(r.URL.Query().Get("debug"))
	if r.URL.Query().Get("gc") == "1" {
		runtime.GC()
	}
	if debug > 0 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	_ = p.WriteTo(w, debug)
}

// Profile is GET /v1/debug/pprof/NAME: PID 1's profile as the API
// serves it (see handleProfile for the query).
func (c *Client) Profile(ctx context.Context, name, query string) ([]byte, error) {
	path := "/v1/debug/pprof/" + name
	if query != "" {
		path += "?" + query
	}
	resp, err := c.send(ctx, c.http, "GET", path, "", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
}
