package policy

import (
	"errors"
	"fmt"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Handles and priorities mark the qdiscs and filters nucbox makes, so
// that it changes and removes only its own. Each filter has a priority of
// its own: the u32 filters of one clsact qdisc share their hash tables
// between ingress and egress, and the kernel tells them apart in a
// listing by priority only.
const (
	// rateHandle is the handle of the TBFs, "6e62:" ("nb").
	rateHandle = 0x6e62 << 16
	// prioMirrorIn and prioMirrorOut copy what a port receives and sends;
	// prioRateIn, after them, hands what a workload sends to its IFB.
	prioMirrorIn  = 0x6e62
	prioMirrorOut = 0x6e63
	prioRateIn    = 0x6e64
	// aliasMirror marks a dummy link made as a mirror's target, aliasIFB
	// the IFB that shapes what a workload sends.
	aliasMirror = "nucbox:mirror"
	aliasIFB    = "nucbox:ifb"
)

// shapeLatencyMS bounds a shaper's queue: a packet waits at most that long
// before it is dropped.
const shapeLatencyMS = 50

// IFBName is the IFB that shapes what the workload on link sends: i-web-0
// for v-web-0 and t-web-0.
func IFBName(link string) string {
	if len(link) > 2 && link[1] == '-' {
		return "i" + link[1:]
	}
	return ("i-" + link)[:min(15, len(link)+2)]
}

// tbfFor is the root qdisc that shapes link to rate bits per second: a
// bucket of 4 ms at the rate (no less than 16 KiB, so that a full TSO
// burst fits) and a queue of shapeLatencyMS behind it.
func tbfFor(index int, rate uint64) *netlink.Tbf {
	bytes := rate / 8
	burst := uint32(max(bytes/250, 16<<10))
	return &netlink.Tbf{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: index, Handle: rateHandle, Parent: netlink.HANDLE_ROOT},
		Rate:       bytes,
		Buffer:     netlink.Xmittime(bytes, burst),
		Limit:      uint32(bytes*shapeLatencyMS/1000) + burst,
	}
}

// ensureRate gives link the root TBF for rate, or takes nucbox's TBF off
// with rate 0. It reports whether it changed anything.
func ensureRate(h *netlink.Handle, l netlink.Link, rate uint64) (bool, error) {
	qs, err := h.QdiscList(l)
	if err != nil {
		return false, err
	}
	var ours *netlink.Tbf
	for _, q := range qs {
		if t, ok := q.(*netlink.Tbf); ok && q.Attrs().Parent == netlink.HANDLE_ROOT && q.Attrs().Handle == rateHandle {
			ours = t
		}
	}
	if rate == 0 {
		if ours == nil {
			return false, nil
		}
		return true, h.QdiscDel(ours)
	}
	want := tbfFor(l.Attrs().Index, rate)
	if ours != nil && ours.Rate == want.Rate && ours.Limit == want.Limit && ours.Buffer == want.Buffer {
		return false, nil
	}
	if err := h.QdiscReplace(want); err != nil {
		return false, fmt.Errorf("tc qdisc tbf rate %d bit/s on %s: %w", rate, l.Attrs().Name, err)
	}
	return true, nil
}

// RateOf is the rate of nucbox's TBF on link in bits per second, 0 when
// there is none.
func RateOf(h *netlink.Handle, link string) (uint64, error) {
	l, err := h.LinkByName(link)
	if err != nil {
		return 0, err
	}
	qs, err := h.QdiscList(l)
	if err != nil {
		return 0, err
	}
	for _, q := range qs {
		if t, ok := q.(*netlink.Tbf); ok && q.Attrs().Handle == rateHandle {
			return t.Rate * 8, nil
		}
	}
	return 0, nil
}

// mirred is the action that sends a copy (or, with redirect, the frame
// itself) out of the link with index target.
type mirred struct {
	target   int
	redirect bool
}

func (m mirred) action() netlink.Action {
	a := netlink.NewMirredAction(m.target)
	if m.redirect {
		a.MirredAction = netlink.TCA_EGRESS_REDIR
		a.Attrs().Action = netlink.TC_ACT_STOLEN
	} else {
		a.MirredAction = netlink.TCA_EGRESS_MIRROR
		a.Attrs().Action = netlink.TC_ACT_PIPE
	}
	return a
}

func (m mirred) is(f netlink.Filter) bool {
	u, ok := f.(*netlink.U32)
	if !ok {
		return false
	}
	kind := netlink.TCA_EGRESS_MIRROR
	if m.redirect {
		kind = netlink.TCA_EGRESS_REDIR
	}
	return len(u.Actions) == 1 && slices.ContainsFunc(u.Actions, func(a netlink.Action) bool {
		x, ok := a.(*netlink.MirredAction)
		return ok && x.Ifindex == m.target && x.MirredAction == kind
	})
}

// ensureFilter makes nucbox's filter of priority prio on one side of
// link's clsact match every frame and run want, or removes it when want
// is nil. It reports whether it changed anything.
func ensureFilter(h *netlink.Handle, l netlink.Link, parent uint32, prio uint16, want *mirred) (bool, error) {
	fs, err := h.FilterList(l, parent)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return false, err
	}
	var ours []netlink.Filter
	for _, f := range fs {
		if u, ok := f.(*netlink.U32); ok && f.Attrs().Priority == prio && len(u.Actions) > 0 {
			ours = append(ours, f)
		}
	}
	if len(ours) == 0 && want == nil || len(ours) == 1 && want != nil && want.is(ours[0]) {
		return false, nil
	}
	changed := false
	if len(ours) > 0 {
		// Without a handle the kernel removes the priority whole, with
		// its hash table.
		err := h.FilterDel(&netlink.U32{FilterAttrs: netlink.FilterAttrs{LinkIndex: l.Attrs().Index, Parent: parent,
			Priority: prio, Protocol: unix.ETH_P_ALL}})
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return false, fmt.Errorf("tc filter del on %s: %w", l.Attrs().Name, err)
		}
		changed = true
	}
	if want == nil {
		return changed, nil
	}
	if err := ensureClsact(h, l); err != nil {
		return changed, err
	}
	f := &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: l.Attrs().Index, Parent: parent, Priority: prio, Protocol: unix.ETH_P_ALL},
		Actions:     []netlink.Action{want.action()},
	}
	if err := h.FilterAdd(f); err != nil {
		return changed, fmt.Errorf("tc filter mirred on %s: %w", l.Attrs().Name, err)
	}
	return true, nil
}

func ensureClsact(h *netlink.Handle, l netlink.Link) error {
	qs, err := h.QdiscList(l)
	if err != nil {
		return err
	}
	for _, q := range qs {
		if q.Type() == "clsact" {
			return nil
		}
	}
	q := &netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.Attrs().Index,
		Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}, QdiscType: "clsact"}
	if err := h.QdiscAdd(q); err != nil {
		return fmt.Errorf("tc qdisc clsact on %s: %w", l.Attrs().Name, err)
	}
	return nil
}

// ensureOwnLink makes a link nucbox owns (marked by alias), up, unless it
// exists; a link of that name nucbox did not make is an error.
func ensureOwnLink(h *netlink.Handle, l netlink.Link, alias string) (netlink.Link, bool, error) {
	name := l.Attrs().Name
	have, err := h.LinkByName(name)
	if err == nil {
		if have.Attrs().Alias != alias {
			return nil, false, fmt.Errorf("link %s exists and was not created by nucbox", name)
		}
		if have.Attrs().Flags&unix.IFF_UP == 0 {
			return have, true, h.LinkSetUp(have)
		}
		return have, false, nil
	}
	if err := h.LinkAdd(l); err != nil {
		return nil, false, fmt.Errorf("link %s: %w", name, err)
	}
	if have, err = h.LinkByName(name); err != nil {
		return nil, true, err
	}
	if err := h.LinkSetAlias(have, alias); err != nil {
		return have, true, err
	}
	return have, true, h.LinkSetUp(have)
}
