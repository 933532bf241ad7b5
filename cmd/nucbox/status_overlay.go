package main

import (
	"fmt"
	"strings"

	"github.com/nucbox/nucbox/vswitch"
)

// bondLine is the uplink bond on one line: mode, active member, and each
// member's carrier.
func bondLine(b vswitch.BondStatus) string {
	var ms []string
	for _, m := range b.Members {
		c := "no carrier"
		if m.Carrier {
			c = "carrier"
		}
		s := fmt.Sprintf("%s %s", m.Name, c)
		if m.State != "" {
			s += " " + strings.ToLower(m.State)
		}
		if m.LinkFailures > 0 {
			s += fmt.Sprintf(" (%d failures)", m.LinkFailures)
		}
		ms = append(ms, s)
	}
	active := b.Active
	if active == "" {
		active = "none"
	}
	return fmt.Sprintf("%s %s, active %s; %s", b.Name, b.Mode, active, strings.Join(ms, ", "))
}

// overlayLine is one tunnel: VLAN, VNI, remotes, MTU and learned MACs.
func overlayLine(t vswitch.TunnelStatus) string {
	s := fmt.Sprintf("%s VLAN %d", t.Name, t.VLAN)
	if t.VNI != 0 {
		s += fmt.Sprintf(" VNI %d", t.VNI)
	}
	var far []string
	for _, r := range t.Remotes {
		far = append(far, r.String())
	}
	if t.Group.IsValid() {
		far = append(far, "group "+t.Group.String())
	}
	s += fmt.Sprintf(" to %s, MTU %d", strings.Join(far, ", "), t.MTU)
	if !t.Up {
		s += ", DOWN"
	}
	var macs []string
	for _, l := range t.Learned {
		m := l.MAC
		if l.Remote.IsValid() {
			m += " via " + l.Remote.String()
		}
		macs = append(macs, m)
	}
	if len(macs) > 0 {
		s += "; learned " + strings.Join(macs, ", ")
	}
	return s
}
