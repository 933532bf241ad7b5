package nftsame

import (
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

func TestSameChainAndCounters(t *testing.T) {
	hook, prio := nftables.ChainHookInput, nftables.ChainPriorityFilter
	accept, drop := nftables.ChainPolicyAccept, nftables.ChainPolicyDrop
	base := nftables.Chain{Name: "in", Type: nftables.ChainTypeFilter, Hooknum: hook, Priority: prio}
	withPolicy := func(p *nftables.ChainPolicy) *nftables.Chain { c := base; c.Policy = p; return &c }
	tests := []struct {
		name string
		a, b *nftables.Chain
		want bool
	}{
		{"unset policy is accept", withPolicy(nil), withPolicy(&accept), true},
		{"drop differs from unset", withPolicy(nil), withPolicy(&drop), false},
		{"other hook", withPolicy(nil), func() *nftables.Chain { c := base; c.Hooknum = nftables.ChainHookForward; return &c }(), false},
		{"other type", withPolicy(nil), func() *nftables.Chain { c := base; c.Type = nftables.ChainTypeNAT; return &c }(), false},
	}
	for _, tt := range tests {
		if got := sameChain(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: %t, want %t", tt.name, got, tt.want)
		}
	}
	counted := zeroCounters([]expr.Any{&expr.Counter{Bytes: 10, Packets: 2}, &expr.Verdict{Kind: expr.VerdictDrop}})
	if c := counted[0].(*expr.Counter); c.Bytes != 0 || c.Packets != 0 {
		t.Errorf("counter kept its values: %+v", c)
	}
	if _, ok := counted[1].(*expr.Verdict); !ok {
		t.Errorf("a verdict became %T", counted[1])
	}
}
