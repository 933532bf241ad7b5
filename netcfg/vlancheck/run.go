package vlancheck

import (
	"context"
	"net"

	"github.com/nucbox/nucbox/internal/safe"
)

// Run checks targets on link: it opens the socket with open (default
// Open), probes with the link's MAC, and closes the socket when the check
// ends or ctx does. Every result fails when the socket cannot be opened.
func Run(ctx context.Context, link string, targets []Target, o Options, open func(string) (Conn, error), logf safe.Logf) []Result {
	if open == nil {
		open = Open
	}
	fail := func(err error) []Result {
		res := Pending(targets)
		for i := range res {
			res[i].State, res[i].Error = Failed, err.Error()
		}
		return stamp(res)
	}
	ifi, err := net.InterfaceByName(link)
	if err != nil {
		return fail(err)
	}
	c, err := open(link)
	if err != nil {
		return fail(err)
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	safe.Go(logf, "vlan check on "+link+": closer", func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
		case <-done:
		}
		c.Close()
	})
	res := Check(ctx, c, ifi.HardwareAddr, targets, o)
	close(done)
	<-stopped
	return res
}
