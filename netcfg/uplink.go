package netcfg

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/nucbox/nucbox/internal/natsort"
	"github.com/nucbox/nucbox/vswitch"
	"github.com/vishvananda/netlink"
)

// uplink is the selected link.
type uplink struct {
	Name  string
	Index int
	MAC   net.HardwareAddr
}

// candidate reports whether l may serve as the uplink and, if not, why.
// Physical means a netlink type from the physical list (a NIC driver's
// links are "device"), Ethernet framing, and not a link nucbox made.
// A link named in the config needs only to be Ethernet.
func (m *Manager) candidate(l netlink.Link, bridgeIndex int, named string) (bool, string) {
	a := l.Attrs()
	switch {
	case a.Flags&net.FlagLoopback != 0:
		return false, "loopback"
	case vswitch.Owned(a.Alias) && (a.Name != named || l.Type() != "bond"):
		return false, "created by nucbox"
	case a.Name != named && !slices.Contains(m.physical, l.Type()):
		return false, "not a physical NIC"
	case a.EncapType != "ether" || len(a.HardwareAddr) != 6:
		return false, "not Ethernet"
	case a.MasterIndex != 0 && a.MasterIndex != bridgeIndex:
		return false, "port of another master"
	}
	return true, ""
}

// nicOrder sorts NICs the same way on every boot: links on a bus first,
// by bus and device (PCI slot order, which probing order does not always
// follow), then by name, with numbers compared as numbers (eth2 before
// eth10).
func nicOrder(a, b netlink.Link) int {
	x, y := a.Attrs(), b.Attrs()
	return cmp.Or(
		cmp.Compare(b2i(x.ParentDevBus == ""), b2i(y.ParentDevBus == "")),
		strings.Compare(x.ParentDevBus, y.ParentDevBus),
		natsort.Compare(x.ParentDev, y.ParentDev),
		natsort.Compare(x.Name, y.Name),
	)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// selectUplink finds the uplink and waits for its carrier. A link that is
// already a port of the bridge, or the one chosen last time, is kept
// without looking at the others: re-applying must not bring other NICs up
// and down, and the uplink must not change under a running box.
func (m *Manager) selectUplink(ctx context.Context, k kernel, sel Selector, bridge string, timeout time.Duration) (uplink, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		seen      []netlink.Link
		broughtUp = map[string]bool{}
		chosen    netlink.Link
		firstSeen time.Time
		bridgeIdx int
	)
	defer func() {
		// Put back down the NICs brought up only to look for carrier.
		for name := range broughtUp {
			if chosen != nil && chosen.Attrs().Name == name {
				continue
			}
			if l, err := m.h.LinkByName(name); err == nil {
				_ = k.mut(func() error { return m.h.LinkSetDown(l) })
			}
		}
	}()
	check := func() (bool, error) {
		links, err := m.h.LinkList()
		if err != nil {
			return false, err
		}
		seen = links
		bridgeIdx = 0
		for _, l := range links {
			if l.Attrs().Name == bridge && l.Type() == "bridge" {
				bridgeIdx = l.Attrs().Index
			}
		}
		var cands []netlink.Link
		for _, l := range links {
			if ok, _ := m.candidate(l, bridgeIdx, sel.Name); !ok {
				continue
			}
			a := l.Attrs()
			switch {
			case sel.MAC != nil && !bytes.Equal(a.HardwareAddr, sel.MAC) && !bytes.Equal(a.PermHWAddr, sel.MAC):
				continue
			case !sel.Auto() && sel.MAC == nil && a.Name != sel.Name:
				continue
			}
			if bridgeIdx != 0 && a.MasterIndex == bridgeIdx || a.Index == m.uplinkIndex && carrier(l) {
				chosen = l
				return true, nil
			}
			cands = append(cands, l)
		}
		slices.SortFunc(cands, nicOrder)
		// Carrier needs the link up; bring up every candidate once.
		for _, l := range cands {
			if l.Attrs().Flags&net.FlagUp == 0 && !broughtUp[l.Attrs().Name] {
				if err := k.mut(func() error { return m.h.LinkSetUp(l) }); err != nil {
					return false, fmt.Errorf("bring %s up: %w", l.Attrs().Name, err)
				}
				broughtUp[l.Attrs().Name] = true
			}
		}
		first := -1
		for i, l := range cands {
			if carrier(l) {
				first = i
				break
			}
		}
		switch {
		case first < 0:
			return false, nil
		case first == 0 || !sel.Auto():
			chosen = cands[first]
			return true, nil
		}
		// A later NIC has carrier: give the earlier ones a moment, so the
		// choice does not depend on which link negotiated faster.
		if firstSeen.IsZero() {
			firstSeen = time.Now()
		}
		if time.Since(firstSeen) >= m.settle {
			chosen = cands[first]
			return true, nil
		}
		return false, nil
	}
	err := m.watchLinks(ctx, 100*time.Millisecond, check)
	if err == nil && chosen != nil {
		a := chosen.Attrs()
		return uplink{Name: a.Name, Index: a.Index, MAC: a.HardwareAddr}, nil
	}
	if errors.Is(err, context.DeadlineExceeded) || err == nil {
		return uplink{}, fmt.Errorf("no uplink (%s) with carrier after %s; links seen: %s", sel, timeout, m.describe(seen, bridgeIdx))
	}
	return uplink{}, err
}

func (m *Manager) describe(links []netlink.Link, bridgeIdx int) string {
	if len(links) == 0 {
		return "none"
	}
	slices.SortFunc(links, nicOrder)
	var parts []string
	for _, l := range links {
		a := l.Attrs()
		s := fmt.Sprintf("%s (%s %s", a.Name, l.Type(), a.HardwareAddr)
		if ok, why := m.candidate(l, bridgeIdx, ""); !ok {
			s += ", " + why
		} else if carrier(l) {
			s += ", carrier"
		} else {
			s += ", no carrier"
		}
		parts = append(parts, s+")")
	}
	return strings.Join(parts, ", ")
}
