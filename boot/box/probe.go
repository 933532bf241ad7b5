package box

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/netcfg/reach"
	"golang.org/x/sys/unix"
)

// Probe sends one probe from a running container's network namespace, or
// from the box's own (From "box"). A VM cannot be probed from: its
// network stack is in the guest, out of the box's reach.
func (a *apiBox) Probe(ctx context.Context, req api.ProbeRequest) (api.ProbeResult, error) {
	p := reach.Probe{Kind: req.Kind, Target: req.Target, Server: req.Server, Timeout: time.Duration(req.TimeoutMS) * time.Millisecond}
	nsPath, root := "", "/"
	if req.From != "box" {
		var found *api.Workload
		for _, w := range a.Workloads() {
			if w.Name == req.From {
				found = &w
				break
			}
		}
		switch {
		case found == nil:
			return api.ProbeResult{}, api.ErrNoWorkload
		case found.Kind == "vm":
			return api.ProbeResult{}, fmt.Errorf("%w: %s is a VM, whose network is inside its guest; probe from a container, the box or the lab", api.ErrCannotProbe, req.From)
		case found.PID <= 0:
			return api.ProbeResult{}, fmt.Errorf("%w: container %s is %s, not running", api.ErrCannotProbe, req.From, found.State)
		}
		nsPath = fmt.Sprintf("/proc/%d/ns/net", found.PID)
		root = fmt.Sprintf("/proc/%d/root", found.PID)
	}
	if p.Kind == reach.Resolve && p.Server == "" {
		p.Server = firstNameserver(root)
		if p.Server == "" {
			return api.ProbeResult{}, &api.ProbeError{Msg: fmt.Sprintf("%s has no IPv4 name server in its /etc/resolv.conf: give the server to ask", req.From)}
		}
	}
	if err := p.Check(); err != nil {
		return api.ProbeResult{}, &api.ProbeError{Msg: err.Error()}
	}
	res, err := reach.Run(ctx, nsPath, p)
	if err != nil {
		return api.ProbeResult{}, err
	}
	out := api.ProbeResult{OK: res.OK, Detail: res.Detail, MS: float64(res.Elapsed.Microseconds()) / 1000, Answers: res.Answers}
	if p.Kind == reach.Resolve {
		out.Server = p.Server
	}
	return out, nil
}

// firstNameserver reads the first IPv4 nameserver line of root's
// /etc/resolv.conf. Inside a container the file is the tenant's: it is
// opened with every symlink resolved inside root, and read bounded.
func firstNameserver(root string) string {
	h, err := pathrs.OpenInRoot(root, "etc/resolv.conf")
	if err != nil {
		return ""
	}
	defer h.Close()
	f, err := pathrs.Reopen(h, unix.O_RDONLY)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(io.LimitReader(f, 64<<10))
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" {
			if a, err := netip.ParseAddr(fields[1]); err == nil && a.Is4() {
				return a.String()
			}
		}
	}
	return ""
}
