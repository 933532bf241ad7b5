package box

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/vswitch/policy"
)

// guardPoll is how often the box looks for BPDUs the guards dropped. A
// switch sends one every two seconds; the guard drops each, so the poll
// only bounds how long the port forwards other frames after the first.
const guardPoll = time.Second

// errDisabled is a port a guard took out of forwarding, and the
// workload's process then: a new one (a restart) enables the port again.
type errDisabled struct {
	api.ErrDisabledPort
	workload string
	pid      int
}

// withDisabled is spec with the err-disabled ports marked. Called with
// n.mu held.
func (n *networkStage) withDisabled(spec policy.Spec) policy.Spec {
	n.dmu.Lock()
	defer n.dmu.Unlock()
	if len(n.disabled) == 0 {
		return spec
	}
	ports := make([]policy.Port, len(spec.Ports))
	for i, p := range spec.Ports {
		_, p.ErrDisabled = n.disabled[p.Link]
		ports[i] = p
	}
	spec.Ports = ports
	return spec
}

// watchGuards err-disables the ports whose BPDU guard dropped a BPDU and
// enables those whose workload restarted, every guardPoll until the box
// shuts down, as one of its long-lived parts.
func (b *Box) watchGuards() {
	if b.net == nil {
		return
	}
	b.goLoop("port guards", func() {
		t := time.NewTicker(guardPoll)
		defer t.Stop()
		for range t.C {
			if b.shuttingDown() {
				return
			}
			b.net.checkGuards(b.workloadPID)
		}
	})
}

// workloadPID is the process of the named workload now, 0 when none.
func (b *Box) workloadPID(name string) int {
	for _, w := range (&apiBox{b: b}).Workloads() {
		if w.Name == name {
			return w.PID
		}
	}
	return 0
}

// checkGuards is one round of watchGuards; pid is a workload's process
// now, 0 when it has none. An apply holds n.mu for as
// long as it runs (a DHCP wait): the round is skipped then, and the next
// finds the same BPDUs, since the guard keeps dropping them.
func (n *networkStage) checkGuards(pid func(workload string) int) {
	if !n.mu.TryLock() {
		return
	}
	defer n.mu.Unlock()
	if n.ns == nil {
		return
	}
	changed := false
	n.dmu.Lock()
	for link, d := range n.disabled {
		if now := pid(d.workload); now != 0 && now != d.pid {
			delete(n.disabled, link)
			changed = true
			n.log.Printf("port %s (%s) enabled again: %s restarted", d.Port, link, d.workload)
		}
	}
	n.dmu.Unlock()
	guarded := false
	for _, p := range n.policy.Ports {
		guarded = guarded || p.BPDUGuard
	}
	if guarded {
		src, err := policy.BPDUSources(n.ns)
		if err != nil {
			n.log.Printf("BPDU guard: %v", err)
		}
		n.dmu.Lock()
		for link, macs := range src {
			p, ok := n.policy.Port(link)
			if _, off := n.disabled[link]; !ok || off || len(macs) == 0 {
				continue
			}
			w := p.Name[:max(0, strings.LastIndexByte(p.Name, '.'))]
			d := errDisabled{ErrDisabledPort: api.ErrDisabledPort{Port: p.Name, Link: link, Reason: "BPDU",
				Source: macs[0].String(), Since: time.Now()}, workload: w, pid: pid(w)}
			if n.disabled == nil {
				n.disabled = map[string]errDisabled{}
			}
			n.disabled[link] = d
			changed = true
			n.log.Printf("port %s (%s) err-disabled: a BPDU from %s; it forwards nothing until `nucbox port enable %s` or a restart of %s",
				p.Name, link, d.Source, p.Name, w)
		}
		n.dmu.Unlock()
	}
	if changed {
		if _, err := policy.Apply(n.ns, n.withDisabled(n.policy)); err != nil {
			n.log.Printf("port policies: %v", err)
		}
	}
}

// enablePort puts a port (WORKLOAD.N or its link) back into forwarding
// and returns what had disabled it, nil when nothing had.
func (n *networkStage) enablePort(name string) (*api.ErrDisabledPort, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var port *policy.Port
	for i, p := range n.policy.Ports {
		if p.Name == name || p.Link == name {
			port = &n.policy.Ports[i]
		}
	}
	if port == nil || n.ns == nil {
		return nil, api.ErrNoPort
	}
	n.dmu.Lock()
	d, ok := n.disabled[port.Link]
	delete(n.disabled, port.Link)
	n.dmu.Unlock()
	if !ok {
		return nil, nil
	}
	if _, err := policy.Apply(n.ns, n.withDisabled(n.policy)); err != nil {
		n.dmu.Lock()
		n.disabled[port.Link] = d
		n.dmu.Unlock()
		return nil, fmt.Errorf("port policies: %w", err)
	}
	n.log.Printf("port %s (%s) enabled again on request", d.Port, d.Link)
	return &d.ErrDisabledPort, nil
}

// forget enables a port whose link was made anew (a container's veth at
// its start) without applying: the caller applies the policy next.
func (n *networkStage) forget(link string) {
	n.dmu.Lock()
	defer n.dmu.Unlock()
	if d, ok := n.disabled[link]; ok {
		delete(n.disabled, link)
		n.log.Printf("port %s (%s) enabled again: %s started anew", d.Port, link, d.workload)
	}
}

// errDisabledPorts lists the err-disabled ports for the status.
func (n *networkStage) errDisabledPorts() []api.ErrDisabledPort {
	n.dmu.Lock()
	defer n.dmu.Unlock()
	var out []api.ErrDisabledPort
	for _, d := range n.disabled {
		out = append(out, d.ErrDisabledPort)
	}
	slices.SortFunc(out, func(a, b api.ErrDisabledPort) int { return strings.Compare(a.Port, b.Port) })
	return out
}

// EnablePort puts an err-disabled port back into forwarding.
func (a *apiBox) EnablePort(name string) (*api.ErrDisabledPort, error) {
	if a.b.net == nil {
		return nil, api.ErrNoPort
	}
	return a.b.net.enablePort(name)
}
