package box

import (
	"context"
	"fmt"
	"strings"

	"github.com/nucbox/nucbox/vswitch"
	"github.com/nucbox/nucbox/vswitch/policy"
)

// applyPolicy applies the port policies after the switch made the ports
// and records them for the ports made later. Called with n.mu held.
func (n *networkStage) applyPolicy(spec policy.Spec, sum *NetworkSummary) error {
	pst, err := policy.Apply(n.ns, n.withDisabled(spec))
	if err != nil {
		return fmt.Errorf("port policies: %w", err)
	}
	n.policy = spec
	sum.PolicyRules = len(pst.Rules)
	if len(spec.Ports) > 0 || pst.Changes > 0 {
		pending := ""
		if len(pst.Pending) > 0 {
			pending = "; rate and mirrors of " + strings.Join(pst.Pending, ", ") + " when their port exists"
		}
		n.log.Printf("port policies bridge %s: %d rule(s) on %d port(s), %d mirror(s), %d change(s)%s",
			policy.Table, len(pst.Rules), len(spec.Ports), len(spec.Mirrors), pst.Changes, pending)
	}
	return nil
}

// reapplyPolicy gives a port made after the network stage (a container's
// veth, new at every start) its rate and mirrors: the table's rules match
// it by name already.
func (n *networkStage) reapplyPolicy() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ns == nil || len(n.policy.Ports) == 0 && len(n.policy.Mirrors) == 0 {
		return nil
	}
	_, err := policy.Apply(n.ns, n.withDisabled(n.policy))
	return err
}

// policySwitch is the box's switch for containers: a port it makes gets
// its policy's rate and mirrors at once.
type policySwitch struct {
	n  *networkStage
	sw *vswitch.Switch
}

func (p policySwitch) EnsurePort(ctx context.Context, b vswitch.Bridge, port vswitch.Port) ([]string, error) {
	done, err := p.sw.EnsurePort(ctx, b, port)
	if err != nil {
		return done, err
	}
	// A veth made anew is a container's new start, which enables its
	// port as a switch does when the device behind it is replaced.
	p.n.forget(port.Name)
	if err := p.n.reapplyPolicy(); err != nil {
		return done, fmt.Errorf("port policies for %s: %w", port.Name, err)
	}
	return done, nil
}
