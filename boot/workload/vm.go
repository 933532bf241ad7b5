package workload

import (
	"context"
	"errors"
	"io"

	"github.com/nucbox/nucbox/vmm"
)

// VM is a QEMU guest as a Workload: its output is the serial console,
// and it has a console and, when configured, a screen.
func VM(g *vmm.Guest) Workload { return vmWorkload{g} }

type vmWorkload struct{ g *vmm.Guest }

func (v vmWorkload) Start(ctx context.Context) error { return v.g.Start(ctx) }
func (v vmWorkload) Done() <-chan struct{}           { return v.g.Done() }
func (v vmWorkload) Err() error                      { return v.g.Err() }
func (v vmWorkload) Stop(ctx context.Context) error  { return v.g.Stop(ctx) }
func (v vmWorkload) Status() Status {
	st := vmStatus(v.g.Status())
	if v.g.Spec().Cgroup != "" {
		h := v.g.Hits()
		st.Limits = &h
	}
	return st
}
func (v vmWorkload) Logs() []byte { return v.g.Serial() }

func (v vmWorkload) Follow() ([]byte, <-chan []byte, func()) { return v.g.FollowSerial() }

func (v vmWorkload) OpenConsole() (io.ReadWriteCloser, error) {
	c, err := v.g.OpenConsole()
	if errors.Is(err, vmm.ErrNotRunning) {
		return nil, ErrNotRunning
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (v vmWorkload) OpenVNC() (io.ReadWriteCloser, error) {
	c, err := v.g.OpenVNC()
	switch {
	case errors.Is(err, vmm.ErrNotRunning):
		return nil, ErrNotRunning
	case errors.Is(err, vmm.ErrNoDisplay):
		return nil, ErrNoDisplay
	case err != nil:
		return nil, err
	}
	return c, nil
}

// vmStatus is a guest's status in the one status type.
func vmStatus(s vmm.Status) Status {
	st := Status{
		Name: s.Name, State: State(s.State), PID: s.PID, Started: s.Started, StartupTime: s.StartupTime,
		LastExit: s.LastExit, LastError: s.LastError, LastErrorAt: s.LastErrorAt, Brief: string(s.Accel),
	}
	add := func(k, v string) {
		if st.Details == nil {
			st.Details = map[string]string{}
		}
		st.Details[k] = v
	}
	if s.Accel != "" {
		add("accel", string(s.Accel))
	}
	if s.Display {
		// Where the screen is: the API's WebSocket, never a TCP port.
		add("vnc", "/v1/vms/"+s.Name+"/vnc")
	}
	if s.QMPStatus != "" {
		add("qmp_status", s.QMPStatus)
	}
	return st
}
