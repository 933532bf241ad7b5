package nftsame

import (
	"encoding/binary"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
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

// A jump element as the kernel lists it (NFTA_VERDICT_CODE, then
// NFTA_VERDICT_CHAIN padded to 4 bytes) matches the wanted jump to that
// chain and no other, and lookups compare without their transaction's
// set ID.
func TestSameVerdictElements(t *testing.T) {
	attr := func(typ uint16, v []byte) []byte {
		b := binary.NativeEndian.AppendUint16(nil, uint16(4+len(v)))
		b = binary.NativeEndian.AppendUint16(b, typ)
		b = append(b, v...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	jumpTo := func(chain string) []byte {
		return append(attr(unix.NFTA_VERDICT_CODE, binary.BigEndian.AppendUint32(nil, uint32(0xfffffffd))),
			attr(unix.NFTA_VERDICT_CHAIN, []byte(chain+"\x00"))...)
	}
	key := []byte("v-a-0\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	want := []nftables.SetElement{{Key: key, Comment: "a.0", VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: "out-v-a-0"}}}
	if !sameElems([]nftables.SetElement{{Key: key, Comment: "a.0", Val: jumpTo("out-v-a-0")}}, want) {
		t.Error("the same jump compares different")
	}
	for name, h := range map[string]nftables.SetElement{
		"other chain":   {Key: key, Comment: "a.0", Val: jumpTo("out-v-b-0")},
		"other key":     {Key: []byte("v-b-0\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), Comment: "a.0", Val: jumpTo("out-v-a-0")},
		"other comment": {Key: key, Comment: "b.0", Val: jumpTo("out-v-a-0")},
		"no verdict":    {Key: key, Comment: "a.0"},
	} {
		if sameElems([]nftables.SetElement{h}, want) {
			t.Errorf("%s compares the same", name)
		}
	}
	l := zeroCounters([]expr.Any{&expr.Lookup{SetName: "out-ports", SetID: 7}})[0].(*expr.Lookup)
	if l.SetID != 0 || l.SetName != "out-ports" {
		t.Errorf("lookup compared as %+v", l)
	}
}
