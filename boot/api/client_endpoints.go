package api

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"time"
)

// Status is GET /v1/status.
func (c *Client) Status(ctx context.Context) (Status, []byte, error) {
	var st Status
	body, err := c.call(ctx, c.http, "GET", "/v1/status", "", nil, &st, "the box's status")
	return st, body, err
}

// Config is GET /v1/config: the running config's text, source and
// SHA-256.
func (c *Client) Config(ctx context.Context) (ConfigInfo, []byte, error) {
	var ci ConfigInfo
	body, err := c.call(ctx, c.http, "GET", "/v1/config", "", nil, &ci, "the answer")
	return ci, body, err
}

// Logs is GET /v1/logs/{name}: the lines the box holds, the last tail of
// them when tail is 0 or more.
func (c *Client) Logs(ctx context.Context, name string, tail int) ([]LogLine, error) {
	var lr LogsResponse
	_, err := c.call(ctx, c.http, "GET", logsPath(name, tail, false), "", nil, &lr, "the log")
	return lr.Lines, err
}

// logsPath is the URL path of a log, with its query.
func logsPath(name string, tail int, follow bool) string {
	q := url.Values{}
	if tail >= 0 {
		q.Set("tail", strconv.Itoa(tail))
	}
	if follow {
		q.Set("follow", "1")
	}
	path := "/v1/logs/" + url.PathEscape(name)
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return path
}

// Plan is POST /v1/plan: the box validates config and compares it with the
// config it runs, changing nothing. name is the file name its errors
// carry. A config that does not validate is an *HTTPError with Errors.
func (c *Client) Plan(ctx context.Context, name string, config []byte) (PlanResponse, []byte, error) {
	var pr PlanResponse
	q := url.Values{"name": {name}}
	body, err := c.call(ctx, c.http, "POST", "/v1/plan?"+q.Encode(), "application/yaml", config, &pr, "the answer")
	return pr, body, err
}

// Apply is POST /v1/apply: as Plan, then the box applies config; with a
// try above 0 it goes back to the previous config unless Confirm follows
// within try.
func (c *Client) Apply(ctx context.Context, name string, config []byte, try time.Duration) (ApplyResponse, []byte, error) {
	var ar ApplyResponse
	q := url.Values{"name": {name}}
	if try > 0 {
		q.Set("try", try.String())
	}
	// The box answers when the apply is done, which takes as long as the
	// config's new workloads take to start: ctx is the only bound.
	body, err := c.call(ctx, c.stream, "POST", "/v1/apply?"+q.Encode(), "application/yaml", config, &ar, "the answer")
	return ar, body, err
}

// Confirm is POST /v1/apply/confirm: the box keeps the config on trial.
func (c *Client) Confirm(ctx context.Context) (TryState, []byte, error) {
	var ts TryState
	body, err := c.call(ctx, c.http, "POST", "/v1/apply/confirm", "", nil, &ts, "the answer")
	return ts, body, err
}

// Power is POST /v1/power; it returns once the box has accepted the
// request.
func (c *Client) Power(ctx context.Context, action PowerAction) (PowerResponse, []byte, error) {
	var pr PowerResponse
	req, err := json.Marshal(PowerRequest{Action: action})
	if err != nil {
		return pr, nil, err
	}
	body, err := c.call(ctx, c.http, "POST", "/v1/power", "application/json", req, &pr, "the answer")
	return pr, body, err
}

// Control is POST /v1/workloads/{name}/{action}. It waits as long as the
// box does, with no timeout of its own: a VM's shutdown may take minutes.
func (c *Client) Control(ctx context.Context, name string, action WorkloadAction) (WorkloadResponse, []byte, error) {
	var wr WorkloadResponse
	path := "/v1/workloads/" + url.PathEscape(name) + "/" + url.PathEscape(string(action))
	body, err := c.call(ctx, c.stream, "POST", path, "", nil, &wr, "the answer")
	return wr, body, err
}

// EnablePort is POST /v1/ports/{name}/enable: the box puts an
// err-disabled port back into forwarding.
func (c *Client) EnablePort(ctx context.Context, name string) (PortResponse, []byte, error) {
	var pr PortResponse
	body, err := c.call(ctx, c.stream, "POST", "/v1/ports/"+url.PathEscape(name)+"/enable", "", nil, &pr, "the answer")
	return pr, body, err
}

// Upgrade is POST /v1/upgrade: the box writes the unified kernel image
// into its other boot slot, on trial for tries boots, and reboots into it
// when reboot is set. Sending tens of MiB and writing them to a USB stick
// can take longer than an ordinary request may, so it gets the box's own
// upload deadline (DefaultLimits.UploadTimeout) instead of the client's.
func (c *Client) Upgrade(ctx context.Context, image []byte, tries int, reboot bool) (UpgradeResult, []byte, error) {
	var res UpgradeResult
	q := url.Values{"tries": {strconv.Itoa(tries)}}
	if reboot {
		q.Set("reboot", "true")
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultLimits.UploadTimeout)
	defer cancel()
	body, err := c.call(ctx, c.stream, "POST", "/v1/upgrade?"+q.Encode(), "application/octet-stream", image, &res, "the answer")
	return res, body, err
}
