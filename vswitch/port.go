package vswitch

import "context"

// EnsurePort creates one TAP or veth port on the bridge, or fixes its
// membership and VLANs, without touching any other port. Containers need
// it between reconciles: a veth dies with its container's namespace and
// is remade at every restart.
func (s *Switch) EnsurePort(ctx context.Context, b Bridge, p Port) ([]string, error) {
	d := Desired{Bridge: b, Ports: []Port{p}}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return s.converge(ctx, d, func(a action) bool { return a.Link == p.Name })
}
