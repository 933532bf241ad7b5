package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netlink"

	"github.com/nucbox/nucbox/vswitch"
)

// Status is what Apply found and did.
type Status struct {
	// Rules are the table's rules, "CHAIN: COMMENT" each.
	Rules []string `json:"rules,omitempty"`
	// Changes counts the writes: the table when it was replaced, each
	// qdisc, filter and link made, changed or removed. A repeated Apply of
	// the same spec makes none.
	Changes int `json:"changes"`
	// Pending are the ports whose links do not exist yet (a container not
	// started): their rules are in the table, their rate and mirrors
	// follow when Apply runs after the link is made.
	Pending []string `json:"pending,omitempty"`
}

// Apply makes the namespace's port policies s: the bridge table in one
// transaction, replaced only when it differs from the kernel's, then each
// existing port's rate and mirrors. Everything is checked before the first
// write; a spec that does not validate changes nothing.
func Apply(ns *vswitch.Namespace, s Spec) (Status, error) {
	var st Status
	if err := s.Validate(); err != nil {
		return st, err
	}
	h, err := ns.Netlink()
	if err != nil {
		return st, err
	}
	defer h.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns.Handle())))
	if err != nil {
		return st, fmt.Errorf("nftables: %w", err)
	}
	if err := checkOwnLinks(h, s); err != nil {
		return st, err
	}
	t := build(s)
	st.Rules = t.Rules()
	same, err := t.same(c)
	if err != nil {
		return st, fmt.Errorf("nftables table bridge %s: %w", Table, err)
	}
	if !same {
		if err := t.send(c); err != nil {
			return st, fmt.Errorf("nftables table bridge %s: %w", Table, err)
		}
		if err := c.Flush(); err != nil {
			if what := explain(c, t); what != "" {
				return st, fmt.Errorf("nftables table bridge %s: %w (the kernel refuses %s)", Table, err, what)
			}
			return st, fmt.Errorf("nftables table bridge %s: %w", Table, err)
		}
		st.Changes++
	}
	n, err := applyTC(h, s, &st)
	st.Changes += n
	return st, err
}

// checkOwnLinks refuses a spec whose mirror targets or IFBs would take
// a link nucbox did not make, before the table is written: the previous
// policy then stays whole.
func checkOwnLinks(h *netlink.Handle, s Spec) error {
	var errs []error
	check := func(name, alias string) {
		if l, err := h.LinkByName(name); err == nil && l.Attrs().Alias != alias {
			errs = append(errs, fmt.Errorf("link %s exists and was not created by nucbox", name))
		}
	}
	for _, m := range s.Mirrors {
		if m.Create {
			check(m.To, aliasMirror)
		}
	}
	for _, p := range s.Ports {
		if p.Rate != 0 {
			check(IFBName(p.Link), aliasIFB)
		}
	}
	return errors.Join(errs...)
}

// explain finds the first part of t the kernel refuses, building it piece
// by piece in a scratch table of its own (removed again), so that an
// error names the chain or rule instead of only the kernel's errno.
func explain(c *nftables.Conn, t *table) string {
	scratch := &nftables.Table{Name: Table + "-check", Family: nftables.TableFamilyBridge}
	defer func() {
		c.DelTable(scratch)
		_ = c.Flush()
	}()
	c.AddTable(scratch)
	if err := c.Flush(); err != nil {
		return "the table itself: " + err.Error()
	}
	chains := map[string]*nftables.Chain{}
	for _, ch := range t.chains {
		x := *ch.chain
		x.Table = scratch
		c.AddChain(&x)
		if err := c.Flush(); err != nil {
			return "chain " + x.Name + ": " + err.Error()
		}
		chains[x.Name] = &x
	}
	for _, m := range t.maps {
		x := *m.set
		x.Table = scratch
		if err := c.AddSet(&x, m.elems); err != nil {
			return "map " + x.Name + ": " + err.Error()
		}
		if err := c.Flush(); err != nil {
			return "map " + x.Name + ": " + err.Error()
		}
	}
	for _, ch := range t.chains {
		for _, r := range ch.rules {
			c.AddRule(&nftables.Rule{Table: scratch, Chain: chains[ch.chain.Name], Exprs: r.exprs})
			if err := c.Flush(); err != nil {
				return "rule " + ch.chain.Name + ": " + r.comment + ": " + err.Error()
			}
		}
	}
	return ""
}

// applyTC sets every rate and mirror of s on the links that exist, and
// takes nucbox's qdiscs, filters and links off where s no longer has
// them.
func applyTC(h *netlink.Handle, s Spec, st *Status) (int, error) {
	changes := 0
	count := func(changed bool, err error) error {
		if changed {
			changes++
		}
		return err
	}
	links, err := h.LinkList()
	if err != nil {
		return 0, err
	}
	byName := map[string]netlink.Link{}
	for _, l := range links {
		byName[l.Attrs().Name] = l
	}
	// The targets first: a filter needs its target's index.
	target := map[string]int{}
	own := map[string]bool{}
	for _, m := range s.Mirrors {
		if m.Create {
			own[m.To] = true
			l, made, err := ensureOwnLink(h, &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: m.To}}, aliasMirror)
			if err := count(made, err); err != nil {
				return changes, fmt.Errorf("mirror target: %w", err)
			}
			byName[m.To] = l
		}
		if l, ok := byName[m.To]; ok {
			for _, f := range m.From {
				target[f] = l.Attrs().Index
			}
		}
	}
	ifb := map[string]netlink.Link{}
	for _, p := range s.Ports {
		if _, ok := byName[p.Link]; !ok {
			st.Pending = append(st.Pending, p.Name)
			continue
		}
		if p.Rate == 0 {
			continue
		}
		name := IFBName(p.Link)
		own[name] = true
		l, made, err := ensureOwnLink(h, &netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: name}}, aliasIFB)
		if err := count(made, err); err != nil {
			return changes, fmt.Errorf("rate of %s: %w", p.Name, err)
		}
		if err := count(ensureRate(h, l, p.Rate)); err != nil {
			return changes, err
		}
		ifb[p.Link] = l
	}
	var errs []error
	for _, l := range links {
		name, alias := l.Attrs().Name, l.Attrs().Alias
		if (alias == aliasMirror || alias == aliasIFB) && !own[name] {
			errs = append(errs, count(true, h.LinkDel(l)))
			continue
		}
		if alias == aliasMirror || alias == aliasIFB {
			continue
		}
		p, _ := s.Port(name)
		errs = append(errs, count(ensureRate(h, l, p.Rate)))
		var in, out, shape *mirred
		if t := target[name]; t != 0 {
			in, out = &mirred{target: t}, &mirred{target: t}
		}
		if i := ifb[name]; i != nil {
			shape = &mirred{target: i.Attrs().Index, redirect: true}
		}
		errs = append(errs,
			count(ensureFilter(h, l, netlink.HANDLE_MIN_INGRESS, prioMirrorIn, in)),
			count(ensureFilter(h, l, netlink.HANDLE_MIN_EGRESS, prioMirrorOut, out)),
			count(ensureFilter(h, l, netlink.HANDLE_MIN_INGRESS, prioRateIn, shape)))
	}
	return changes, errors.Join(errs...)
}

// Counter is one rule's packet and byte counts.
type Counter struct {
	Chain   string `json:"chain"`
	Rule    string `json:"rule"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// Drop is set for rules that drop what they match.
	Drop bool `json:"drop,omitempty"`
}

// Counters reads the counters of the table's rules; none when the table
// does not exist.
func Counters(ns *vswitch.Namespace) ([]Counter, error) {
	c, err := nftables.New(nftables.WithNetNSFd(int(ns.Handle())))
	if err != nil {
		return nil, err
	}
	if ok, err := tableExists(c); err != nil || !ok {
		return nil, err
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyBridge)
	if err != nil {
		return nil, err
	}
	var out []Counter
	for _, ch := range chains {
		if ch.Table.Name != Table || !strings.Contains(ch.Name, "-") {
			continue
		}
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			return nil, err
		}
		for _, r := range rules {
			comment, _ := userdata.GetString(r.UserData, userdata.TypeComment)
			k := Counter{Chain: ch.Name, Rule: comment}
			for _, e := range r.Exprs {
				switch v := e.(type) {
				case *expr.Counter:
					k.Packets, k.Bytes = v.Packets, v.Bytes
				case *expr.Verdict:
					k.Drop = v.Kind == expr.VerdictDrop
				}
			}
			out = append(out, k)
		}
	}
	return out, nil
}
