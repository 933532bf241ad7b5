package vswitch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/vishvananda/netlink"
)

// Switch manages the bridge and its ports in one network namespace. Its
// methods may be called from several goroutines (the apply stage's
// Reconcile, each container's EnsurePort at its starts): one observes,
// plans and acts at a time, so that none sees a link another is halfway
// through making (a new veth has its alias, which marks it nucbox's, only
// after a second call).
type Switch struct {
	mu  sync.Mutex // held by converge and Detach
	ns  *Namespace
	h   *netlink.Handle
	log *slog.Logger
	// changes counts mutating netlink calls, so "a second apply changes
	// nothing" is a number a test can check.
	changes atomic.Int64
	// beforeExec, set by tests only, runs before each action.
	beforeExec func(action)
}

// Status is what Reconcile did and what the switch looks like after it.
type Status struct {
	Bridge    string
	Filtering bool
	// VLANs are the bridge device's own VLANs.
	VLANs []VLAN
	Ports []PortStatus
	// Actions lists the steps taken, in order; empty when nothing changed.
	Actions []string
	// Changes counts the mutating netlink calls made.
	Changes int
}

// PortStatus is one bridge port as the kernel has it.
type PortStatus struct {
	Name  string
	Kind  PortKind
	Label string
	Index int
	MAC   net.HardwareAddr
	Up    bool
	VLANs []VLAN
}

// Open prepares a Switch working in ns; log may be nil.
func Open(ns *Namespace, log *slog.Logger) (*Switch, error) {
	h, err := ns.Netlink()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Switch{ns: ns, h: h, log: log}, nil
}

// Close releases the netlink sockets; the kernel state stays as it is.
func (s *Switch) Close() { s.h.Close() }

// Changes is the number of mutating netlink calls made so far.
func (s *Switch) Changes() int64 { return s.changes.Load() }

// Reconcile makes the kernel match d: it reads the links and VLAN tables,
// plans the difference and applies only that. A second call with the same
// d makes no changes.
func (s *Switch) Reconcile(ctx context.Context, d Desired) (Status, error) {
	if err := d.Validate(); err != nil {
		return Status{}, err
	}
	start := s.changes.Load()
	done, err := s.converge(ctx, d, func(action) bool { return true })
	st, serr := s.status(d)
	st.Actions, st.Changes = done, int(s.changes.Load()-start)
	if err == nil {
		err = serr
	}
	return st, err
}

// EnsureBridge creates the bridge when it is missing and fixes its MAC,
// VLAN filtering and native VLAN; it touches no port, removes none of the
// bridge's VLANs Reconcile gave it, and leaves a new bridge down. The uplink takeover enslaves the uplink to a down bridge and then
// brings it up: the bridge gains carrier while opening and its queue works
// at once, instead of dropping frames until the kernel's deferred
// link-state work (up to a second later) activates it.
func (s *Switch) EnsureBridge(ctx context.Context, b Bridge) ([]string, error) {
	d := Desired{Bridge: b}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	_, err := s.h.LinkByName(b.Name)
	created := err != nil
	return s.converge(ctx, d, func(a action) bool {
		// The bridge's own VLANs for box addresses are Reconcile's; only
		// the VLAN 1 a new bridge starts with is removed here.
		if a.Op == opVLANDel && !created {
			return false
		}
		return a.Link == b.Name && a.Op != opUp && a.Op != opDelete
	})
}

// Attach enslaves an external link (the uplink) to the bridge and sets its
// VLANs. The bridge's default PVID is 0, so the link is in no VLAN at all
// between the two steps.
func (s *Switch) Attach(ctx context.Context, b Bridge, p Port) ([]string, error) {
	p.Kind = KindExternal
	d := Desired{Bridge: b, Ports: []Port{p}}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return s.converge(ctx, d, func(a action) bool { return a.Link == p.Name })
}

// Detach takes an external link off its bridge.
func (s *Switch) Detach(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("detach %s: %w", name, err)
	}
	if l.Attrs().MasterIndex == 0 {
		return nil
	}
	return s.mut(func() error { return s.h.LinkSetNoMaster(l) })
}

// BringUp sets a link administratively up.
func (s *Switch) BringUp(name string) error {
	l, err := s.h.LinkByName(name)
	if err != nil {
		return err
	}
	if l.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	return s.mut(func() error { return s.h.LinkSetUp(l) })
}

// converge plans and applies until nothing is left to do. A second pass is
// normal after creating a bridge: the kernel gives a new bridge VLAN 1
// before the default PVID of 0 takes effect, and only a fresh read shows it.
func (s *Switch) converge(ctx context.Context, d Desired, keep func(action) bool) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var done []string
	for pass := 0; ; pass++ {
		o, err := s.observe(d.Bridge.Name)
		if err != nil {
			return done, err
		}
		all, err := plan(d, o)
		if err != nil {
			return done, err
		}
		var acts []action
		for _, a := range all {
			if keep(a) {
				acts = append(acts, a)
			}
		}
		if len(acts) == 0 {
			return done, nil
		}
		if pass == 3 {
			return done, fmt.Errorf("bridge %s does not converge; still to do: %s", d.Bridge.Name, joinActions(acts))
		}
	acts:
		for _, a := range acts {
			if err := ctx.Err(); err != nil {
				return done, err
			}
			if s.beforeExec != nil {
				s.beforeExec(a)
			}
			if err := s.exec(a); err != nil {
				if vanished(err) {
					// A link went away under the plan: a container's veth
					// goes with the container's namespace when its run
					// ends, at any moment of an apply. The next pass plans
					// from what is there now.
					s.log.Info("vswitch: a link went away; planning again", "action", a.String(), "error", err.Error())
					break acts
				}
				return done, fmt.Errorf("%s: %w", a, err)
			}
			s.log.Debug("vswitch", "do", a.String())
			done = append(done, a.String())
		}
	}
}

// vanished reports whether an action failed because its link no longer
// exists.
func vanished(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, syscall.ENODEV)
}

func joinActions(acts []action) string {
	ss := make([]string, len(acts))
	for i, a := range acts {
		ss[i] = a.String()
	}
	return strings.Join(ss, "; ")
}

func (s *Switch) status(d Desired) (Status, error) {
	o, err := s.observe(d.Bridge.Name)
	st := Status{Bridge: d.Bridge.Name, Filtering: o.filtering, VLANs: o.vlans[d.Bridge.Name]}
	if err != nil {
		return st, err
	}
	for _, p := range d.Ports {
		l, ok := o.links[p.Name]
		if !ok {
			continue
		}
		st.Ports = append(st.Ports, PortStatus{
			Name: p.Name, Kind: p.Kind, Label: p.Label, Index: l.Index,
			MAC: l.MAC, Up: l.Up, VLANs: o.vlans[p.Name],
		})
	}
	return st, nil
}
