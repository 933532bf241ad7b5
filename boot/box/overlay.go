package box

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/nucbox/nucbox/netcfg"
	"github.com/nucbox/nucbox/vswitch"
)

// tunnelSource is the box's address that tunnels leave from: the first
// IPv4 address of the link holding the box's uplink address.
func tunnelSource(st netcfg.Status) netip.Addr {
	for _, p := range st.Addresses {
		if p.Addr().Is4() {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

// logTunnels says which tunnels the switch has, one line each.
func logTunnels(log logger, ts []vswitch.TunnelStatus) {
	for _, t := range ts {
		far := strings.Join(strs(t.Remotes), ", ")
		if t.Group.IsValid() {
			far = "group " + t.Group.String()
		}
		id := ""
		if t.VNI != 0 {
			id = fmt.Sprintf(" VNI %d", t.VNI)
		}
		log.Printf("overlay %s: VLAN %d%s from %s to %s, MTU %d", t.Name, t.VLAN, id, t.Local, far, t.MTU)
	}
}

// tunnels reads the overlays' tunnels for the status; nil without any.
func (n *networkStage) tunnels() []vswitch.TunnelStatus {
	sw, d, _ := n.view()
	if sw == nil || d == nil || !hasTunnels(*d) {
		return nil
	}
	ts, err := sw.Tunnels(*d)
	if err != nil {
		n.log.Printf("overlays: %v", err)
	}
	return ts
}

// bondState reads the uplink bond for the status; nil without one.
func (n *networkStage) bondState() *vswitch.BondStatus {
	sw, _, b := n.view()
	if sw == nil || b == nil {
		return nil
	}
	st, err := sw.BondState(*b)
	if err != nil {
		return nil
	}
	return &st
}

// watchBond logs each change of a member's carrier and of the active
// member until ctx ends. It polls: a link event for a member comes with
// no word of the bond's choice, and two reads a second cost nothing.
func (n *networkStage) watchBond(ctx context.Context, sw *vswitch.Switch, b vswitch.Bond) {
	last, err := sw.BondState(b)
	if err != nil {
		n.log.Printf("bond %s: %v", b.Name, err)
	}
	n.log.Printf("bond %s: %s", b.Name, bondText(last))
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := sw.BondState(b)
		if err != nil {
			continue
		}
		for i, m := range st.Members {
			if i < len(last.Members) && last.Members[i].Carrier != m.Carrier {
				if m.Carrier {
					n.log.Printf("bond %s: member %s carrier up", b.Name, m.Name)
				} else {
					n.log.Printf("bond %s: member %s LOST CARRIER", b.Name, m.Name)
				}
			}
		}
		if st.Active != last.Active {
			n.log.Printf("bond %s: active member %s -> %s", b.Name, orNone(last.Active), orNone(st.Active))
		}
		last = st
	}
}

func bondText(st vswitch.BondStatus) string {
	var ms []string
	for _, m := range st.Members {
		c := "no carrier"
		if m.Carrier {
			c = "carrier"
		}
		ms = append(ms, fmt.Sprintf("%s %s %s", m.Name, c, strings.ToLower(m.State)))
	}
	return fmt.Sprintf("%s, MAC %s, active %s; %s", st.Mode, st.MAC, orNone(st.Active), strings.Join(ms, ", "))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// startBondWatch starts the bond's watcher once per bond name; a later
// apply with the same bond keeps it.
func (n *networkStage) startBondWatch(b *vswitch.Bond) {
	if b == nil || n.bondWatch == b.Name {
		return
	}
	if n.stopWatch != nil {
		n.stopWatch()
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.bondWatch, n.stopWatch = b.Name, cancel
	sw, bond := n.sw, *b
	n.log.goSafe("bond-watch", func() { n.watchBond(ctx, sw, bond) })
}

// view is what the status reads, under its own lock: the stage's lock is
// held through a whole apply, DHCP wait included.
func (n *networkStage) view() (*vswitch.Switch, *vswitch.Desired, *vswitch.Bond) {
	n.vmu.Lock()
	defer n.vmu.Unlock()
	return n.vsw, n.desired, n.bond
}

func (n *networkStage) setView(sw *vswitch.Switch, d *vswitch.Desired, b *vswitch.Bond) {
	n.vmu.Lock()
	defer n.vmu.Unlock()
	n.vsw, n.desired, n.bond = sw, d, b
}

func hasTunnels(d vswitch.Desired) bool {
	for _, p := range d.Ports {
		if p.Tunnel != nil {
			return true
		}
	}
	return false
}
