package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/coder/websocket"
)

// FollowLogs is GET /v1/logs/{name}?follow=1: it calls line for the lines
// the box holds (the last tail of them when tail is 0 or more) and then
// for each new one, until ctx ends, line fails or the box ends the stream.
// The end of ctx is no error, and neither is ctx ending while the request
// is made; the box ending the stream (it shuts down) is one; an error of
// line is returned as it is.
func (c *Client) FollowLogs(ctx context.Context, name string, tail int, line func(LogLine) error) error {
	resp, err := c.send(ctx, c.stream, "GET", logsPath(name, tail, true), "", nil)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer resp.Body.Close()
	// Server-sent events: of each event only the data line matters, the
	// line's JSON; ids, event names and keep-alive comments are skipped.
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var l LogLine
		if err := json.Unmarshal([]byte(data), &l); err != nil {
			return fmt.Errorf("reading the log stream: %w", err)
		}
		if err := line(l); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("the log stream ended: %w", err)
	}
	return errors.New("the box closed the log stream")
}

// Console is GET /v1/console/{vm} upgraded to ConsoleProtocol: the
// connection carries the VM's serial console both ways until it is
// closed, which detaches (the VM runs on).
func (c *Client) Console(ctx context.Context, vm string) (io.ReadWriteCloser, error) {
	return c.upgradeTo(ctx, "/v1/console/"+url.PathEscape(vm), ConsoleProtocol)
}

// VNC is GET /v1/vms/{vm}/vnc as a WebSocket: the connection carries the
// VM's screen as RFB both ways (QEMU's banner first) until it is closed.
// The token goes in the Authorization header, as on every request.
func (c *Client) VNC(ctx context.Context, vm string) (net.Conn, error) {
	u := "ws" + strings.TrimPrefix(c.base, "http") + VNCPath(url.PathEscape(vm))
	h := http.Header{}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		HTTPClient: c.upgrade, HTTPHeader: h, Subprotocols: []string{BinarySubprotocol},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			if resp.Body == nil {
				resp.Body = http.NoBody
			}
			return nil, c.httpError(resp)
		}
		return nil, c.explain(err)
	}
	// A screen's updates are large; the viewer's messages are small, but
	// a clipboard paste is not: allow a few MiB per message.
	ws.SetReadLimit(16 << 20)
	// The connection lives past ctx, which only bounds the handshake.
	return websocket.NetConn(context.Background(), ws, websocket.MessageBinary), nil
}
