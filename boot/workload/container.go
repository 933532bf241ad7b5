package workload

import (
	"context"
	"fmt"

	"github.com/nucbox/nucbox/containers"
)

// Container is an OCI container as a Workload: its output is its log,
// and it measures its usage from its cgroup.
func Container(s *containers.Supervisor) Workload { return ctWorkload{s} }

type ctWorkload struct{ s *containers.Supervisor }

func (c ctWorkload) Start(ctx context.Context) error { return c.s.Start(ctx) }
func (c ctWorkload) Done() <-chan struct{}           { return c.s.Done() }
func (c ctWorkload) Err() error                      { return c.s.Err() }
func (c ctWorkload) Stop(ctx context.Context) error  { return c.s.Stop(ctx) }
func (c ctWorkload) Status() Status {
	st := containerStatus(c.s.Status())
	h := c.s.Hits()
	st.Limits = &h
	return st
}
func (c ctWorkload) Logs() []byte     { return c.s.Logs() }
func (c ctWorkload) Note(text string) { c.s.Note(text) }
func (c ctWorkload) Close() error     { return c.s.Close() }

func (c ctWorkload) Follow() ([]byte, <-chan []byte, func()) { return c.s.FollowLogs() }

func (c ctWorkload) Usage() (Usage, error) {
	u, err := c.s.Usage()
	return Usage{CPU: u.CPU, Memory: u.Memory}, err
}

// containerStatus is a container's status in the one status type; a
// container that ended with an error is failed.
func containerStatus(s containers.Status) Status {
	st := Status{
		Name: s.Name, State: State(s.State), PID: s.Pid, Started: s.Started, StartupTime: s.StartupTime,
		LastExit: s.LastExit, LastError: s.LastError, LastErrorAt: s.LastErrorAt, Brief: s.Image,
		Details: map[string]string{"image": s.Image},
	}
	if st.State == StateExited && s.LastError != "" {
		st.State = StateFailed
	}
	for _, n := range s.NICs {
		if n.Address != "" {
			st.Addresses = append(st.Addresses, n.Address)
		}
		if n.DHCP != nil {
			st.Leases = append(st.Leases, n.DHCP)
		}
	}
	if s.Digest != "" {
		st.Details["digest"] = s.Digest
	}
	if p := s.Progress; p != nil {
		st.Details["pull"] = fmt.Sprintf("layer %d/%d %d/%d bytes", p.Layer, p.Layers, p.Done, p.Total)
	}
	return st
}
