package nftsame

import (
	"reflect"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
)

// Chain is a wanted chain and its rules, in order.
type Chain struct {
	Chain *nftables.Chain
	Rules []Rule
}

// Rule is a wanted rule: its comment and expressions.
type Rule struct {
	Comment string
	Exprs   []expr.Any
}

// Same reports whether the kernel's table t holds exactly chains: the
// same chains with the same type, hook, priority and policy, and rules
// with the same comments and expressions in order. Counters are compared
// without their values. An absent table is the same as one without
// chains.
func Same(c *nftables.Conn, t *nftables.Table, chains []Chain) (bool, error) {
	exists, err := Exists(c, t)
	if err != nil || !exists {
		return !exists && len(chains) == 0, err
	}
	listed, err := c.ListChainsOfTableFamily(t.Family)
	if err != nil {
		return false, err
	}
	have := map[string]*nftables.Chain{}
	for _, ch := range listed {
		if ch.Table.Name == t.Name {
			have[ch.Name] = ch
		}
	}
	if len(have) != len(chains) {
		return false, nil
	}
	for _, w := range chains {
		h := have[w.Chain.Name]
		if h == nil || !sameChain(h, w.Chain) {
			return false, nil
		}
		rules, err := c.GetRules(t, h)
		if err != nil {
			return false, err
		}
		if len(rules) != len(w.Rules) {
			return false, nil
		}
		for i, r := range rules {
			comment, _ := userdata.GetString(r.UserData, userdata.TypeComment)
			if comment != w.Rules[i].Comment || !reflect.DeepEqual(zeroCounters(r.Exprs), zeroCounters(w.Rules[i].Exprs)) {
				return false, nil
			}
		}
	}
	return true, nil
}

// Exists reports whether the kernel has table t.
func Exists(c *nftables.Conn, t *nftables.Table) (bool, error) {
	tables, err := c.ListTablesOfFamily(t.Family)
	if err != nil {
		return false, err
	}
	for _, k := range tables {
		if k.Name == t.Name {
			return true, nil
		}
	}
	return false, nil
}

func sameChain(a, b *nftables.Chain) bool {
	return a.Type == b.Type && deref(a.Hooknum) == deref(b.Hooknum) &&
		deref(a.Priority) == deref(b.Priority) && Policy(a) == Policy(b)
}

// deref is a chain attribute's value, its zero value when unset.
func deref[T any](p *T) T {
	var v T
	if p != nil {
		v = *p
	}
	return v
}

// Policy is a base chain's policy; the kernel reports accept for a
// chain created without one.
func Policy(c *nftables.Chain) nftables.ChainPolicy {
	if c.Policy == nil {
		return nftables.ChainPolicyAccept
	}
	return *c.Policy
}

// zeroCounters drops the values of counters, which the kernel's copy
// has counted up and the wanted one has not, and the set IDs of lookups,
// which only name a set within the transaction that made it (the kernel
// lists the name).
func zeroCounters(es []expr.Any) []expr.Any {
	out := make([]expr.Any, len(es))
	for i, e := range es {
		switch x := e.(type) {
		case *expr.Counter:
			e = &expr.Counter{}
		case *expr.Lookup:
			l := *x
			l.SetID = 0
			e = &l
		}
		out[i] = e
	}
	return out
}
