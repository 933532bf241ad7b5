package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// MaxCaptureBytes bounds what one capture may ask for.
const MaxCaptureBytes = 1 << 30

// CaptureTrailer carries a capture's result after its pcap stream.
const CaptureTrailer = "Nucbox-Capture"

// CaptureRequest says what to record of a port and when to stop.
type CaptureRequest struct {
	VLAN     int
	Count    int
	MaxBytes int64
}

// CaptureResult is what a capture recorded and why it stopped: count,
// bytes, or stopped (the client went away).
type CaptureResult struct {
	Link    string
	Packets int
	Bytes   int64
	Reason  string
}

// ErrNoPort is a port the box does not have, to capture or to enable;
// the API answers it with 404.
var ErrNoPort = errors.New("no such port")

// Capturer records a port's frames as pcap (nucbox capture).
type Capturer interface {
	// CapturePort names the link of a port: VM.N, CONTAINER.N, uplink,
	// or a link of the box; ErrNoPort when there is none.
	CapturePort(port string) (string, error)
	// CaptureLink writes the pcap stream of link to w until a limit or
	// the end of ctx.
	CaptureLink(ctx context.Context, link string, req CaptureRequest, w io.Writer) (CaptureResult, error)
}

// flushWriter flushes the response after every write, so that each frame
// reaches the client as it is captured.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(b []byte) (int, error) { return f.w.Write(b) }
func (f flushWriter) Flush() error                { return f.rc.Flush() }

func (s *Server) handleCapture(w http.ResponseWriter, r *http.Request) {
	c, ok := s.box.(Capturer)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this box cannot capture")
		return
	}
	req, err := parseCapture(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	port := r.PathValue("port")
	link, err := c.CapturePort(port)
	if errors.Is(err, ErrNoPort) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no port %q on this box: name VM.N or CONTAINER.N (the NIC's index), uplink, or a link nucbox status lists", port))
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.logf("api: capture of %s (%s) started (request from %s)", port, link, who(r))
	w.Header().Set("Content-Type", "application/vnd.tcpdump.pcap")
	w.Header().Set("Content-Disposition", `attachment; filename="`+link+`.pcap"`)
	w.Header().Set("Trailer", CaptureTrailer)
	w.WriteHeader(http.StatusOK)
	res, err := c.CaptureLink(r.Context(), link, req, flushWriter{w, http.NewResponseController(w)})
	if err != nil {
		res.Reason = "error: " + err.Error()
	}
	w.Header().Set(CaptureTrailer, fmt.Sprintf("packets=%d bytes=%d reason=%s", res.Packets, res.Bytes, url.QueryEscape(res.Reason)))
	s.logf("api: capture of %s ended: %d packets, %d bytes (%s)", port, res.Packets, res.Bytes, res.Reason)
}

// parseCapture reads ?vlan=&count=&max_bytes=.
func parseCapture(q url.Values) (CaptureRequest, error) {
	var req CaptureRequest
	num := func(name string, lo, hi int64) (int64, error) {
		v := q.Get(name)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("%s=%s: want a whole number from %d to %d", name, v, lo, hi)
		}
		return n, nil
	}
	v, err := num("vlan", 1, 4094)
	if err != nil {
		return req, err
	}
	n, err := num("count", 1, 1<<31-1)
	if err != nil {
		return req, err
	}
	b, err := num("max_bytes", 1024, MaxCaptureBytes)
	if err != nil {
		return req, err
	}
	return CaptureRequest{VLAN: int(v), Count: int(n), MaxBytes: b}, nil
}

// Capture streams a port's pcap (GET /v1/capture/{port}) into w and
// returns what the box says it recorded.
func (c *Client) Capture(ctx context.Context, port string, req CaptureRequest, w io.Writer) (CaptureResult, error) {
	q := url.Values{}
	if req.VLAN != 0 {
		q.Set("vlan", strconv.Itoa(req.VLAN))
	}
	if req.Count != 0 {
		q.Set("count", strconv.Itoa(req.Count))
	}
	if req.MaxBytes != 0 {
		q.Set("max_bytes", strconv.FormatInt(req.MaxBytes, 10))
	}
	path := "/v1/capture/" + url.PathEscape(port)
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.send(ctx, c.stream, "GET", path, "", nil)
	if err != nil {
		return CaptureResult{}, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	res := CaptureResult{Bytes: n, Reason: "stopped"}
	if err != nil {
		if ctx.Err() != nil {
			return res, nil
		}
		return res, fmt.Errorf("the capture stream: %w", err)
	}
	if t := resp.Trailer.Get(CaptureTrailer); t != "" {
		fmt.Sscanf(t, "packets=%d bytes=%d reason=%s", &res.Packets, &res.Bytes, &res.Reason)
		res.Reason, _ = url.QueryUnescape(res.Reason)
	}
	return res, nil
}
