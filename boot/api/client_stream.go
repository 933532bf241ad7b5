package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
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
