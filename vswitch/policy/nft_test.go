package policy

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

func TestBuildRules(t *testing.T) {
	s := Spec{Ports: []Port{
		{Link: "t-vm1-0", Name: "vm1.0", MAC: "02:00:00:00:00:01", IPv4: netip.MustParseAddr("10.0.10.5"),
			SpoofGuard: true, BPDUGuard: true, RAGuard: true, DefaultDeny: true, Rate: 100e6,
			Rules: []Rule{
				{Allow: true, Proto: "tcp", Port: 80, CIDR: netip.MustParsePrefix("10.0.0.0/8")},
				{Allow: false, In: true, Proto: "udp", Port: 53},
				{Allow: true, Proto: "icmpv6", CIDR: netip.MustParsePrefix("fd00::/8")},
			}},
		{Link: "v-ct-0", Name: "ct.0", MAC: "02:00:00:00:00:02"},
	}}
	want := []string{
		"bpdu-t-vm1-0: bpdu-guard: add @bpdu-t-vm1-0 { ether saddr } (the source, for the err-disable)",
		"bpdu-t-vm1-0: bpdu-guard: drop (BPDUs of vm1.0)",
		"out-t-vm1-0: bpdu-guard: ether daddr 01:80:c2:00:00:00 jump bpdu-t-vm1-0 (802.1D/RSTP/MSTP BPDUs)",
		"out-t-vm1-0: bpdu-guard: ether daddr 01:00:0c:cc:cc:cd jump bpdu-t-vm1-0 (PVST+ BPDUs)",
		"out-t-vm1-0: spoof-guard: ether saddr != 02:00:00:00:00:01 drop",
		"out-t-vm1-0: spoof-guard: ip saddr != { 10.0.10.5, 0.0.0.0 } drop",
		"out-t-vm1-0: spoof-guard: arp saddr ip != { 10.0.10.5, 0.0.0.0 } drop",
		"out-t-vm1-0: ra-guard: icmpv6 type nd-router-advert drop",
		"out-t-vm1-0: ra-guard: icmpv6 type nd-redirect drop",
		"out-t-vm1-0: out: meta l4proto tcp th dport 80 ip daddr 10.0.0.0/8 accept",
		"out-t-vm1-0: out: meta l4proto icmpv6 ip6 daddr fd00::/8 accept",
		"out-t-vm1-0: default deny: meta protocol ip drop",
		"out-t-vm1-0: default deny: meta protocol ip6 drop",
		"in-t-vm1-0: in: meta l4proto udp th dport 53 drop",
		`prerouting: iifname "t-vm1-0" jump out-t-vm1-0: sent by vm1.0`,
		`postrouting: oifname "t-vm1-0" jump in-t-vm1-0: delivered to vm1.0`,
	}
	if got := RuleLines(s); !reflect.DeepEqual(got, want) {
		t.Errorf("rules:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	// From mapFrom ports on, the hooks look the port up in a map.
	was := mapFrom
	defer func() { mapFrom = was }()
	mapFrom = 1
	want = append(want[:len(want)-2],
		"prerouting: iifname vmap @out-ports: the chain of the port the frame enters by",
		"postrouting: oifname vmap @in-ports: the chain of the port the frame leaves by",
		`out-ports: "t-vm1-0" : jump out-t-vm1-0: sent by vm1.0`,
		`in-ports: "t-vm1-0" : jump in-t-vm1-0: delivered to vm1.0`)
	if got := RuleLines(s); !reflect.DeepEqual(got, want) {
		t.Errorf("rules with a map:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	mapFrom = was
	// A port without guards or rules has no chain and no element, and
	// a table of such ports no hook.
	if got := build(Spec{Ports: s.Ports[1:]}); len(got.chains) != 0 || len(got.maps) != 0 {
		t.Errorf("a port with nothing to check made chains or maps: %q", got.Rules())
	}
	// Without in rules there is no postrouting hook.
	noIn := s.Ports[0]
	noIn.Rules = noIn.Rules[:1]
	for _, c := range build(Spec{Ports: []Port{noIn}}).chains {
		if c.chain.Hooknum != nil && *c.chain.Hooknum == *nftables.ChainHookPostrouting {
			t.Errorf("a port without in rules made a postrouting hook")
		}
	}
	// An err-disabled port drops everything both ways, before its
	// guards and rules, and gets both hooks without in rules of its own.
	off := noIn
	off.ErrDisabled = true
	want = []string{
		"out-t-vm1-0: err-disabled: drop every frame the port sends",
		"in-t-vm1-0: err-disabled: drop every frame delivered to the port",
		`prerouting: iifname "t-vm1-0" jump out-t-vm1-0: sent by vm1.0`,
		`postrouting: oifname "t-vm1-0" jump in-t-vm1-0: delivered to vm1.0`,
	}
	if got := RuleLines(Spec{Ports: []Port{off}}); !reflect.DeepEqual(got, want) {
		t.Errorf("err-disabled port:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if got := RuleLines(Spec{}); len(got) != 0 {
		t.Errorf("an empty spec made rules: %q", got)
	}

	// The expressions of the out rule: TCP, port 80 and the destination
	// address masked to /8, at IPv4's daddr offset.
	tb := build(s)
	var r rule
	for _, c := range tb.chains {
		for _, x := range c.rules {
			if strings.HasPrefix(x.comment, "out: meta l4proto tcp") {
				r = x
			}
		}
	}
	wantExprs := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 80}},
		&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{8, 0}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 0, 0, 0}, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{10, 0, 0, 0}},
		&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictAccept},
	}
	if !reflect.DeepEqual(r.exprs, wantExprs) {
		t.Errorf("tcp 80 to 10/8:\n got %#v\nwant %#v", r.exprs, wantExprs)
	}
	// An in rule matches the source: offset 12.
	in := prefixMatch(netip.MustParsePrefix("10.1.0.0/16"), false)
	if p := in[2].(*expr.Payload); p.Offset != 12 {
		t.Errorf("in rule matches the address at offset %d, want 12 (saddr)", p.Offset)
	}
	if p := prefixMatch(netip.MustParsePrefix("fd00::/8"), true)[2].(*expr.Payload); p.Offset != 24 || p.Len != 16 {
		t.Errorf("IPv6 daddr at %d+%d, want 24+16", p.Offset, p.Len)
	}
}

func TestValidate(t *testing.T) {
	bad := Spec{
		Ports: []Port{
			{Link: "v-a-0", Name: "a.0", MAC: "01:00:00:00:00:01", SpoofGuard: true},
			{Link: "v-a-0", Name: "a.1", Rate: 10},
			{Link: "this-name-is-too-long", Name: "b.0", Rules: []Rule{{Proto: "gre"}, {Proto: "icmp", Port: 3}}},
		},
		Mirrors: []Mirror{{From: []string{"v-a-0"}, To: "v-b-0"}, {From: []string{"v-b-0"}, To: "v-a-0"}},
	}
	err := bad.Validate()
	for _, want := range []string{
		`spoof guard needs the port's unicast MAC, not "01:00:00:00:00:01"`,
		"link v-a-0 has two policies",
		"rate 10 bit/s too low",
		`link name "this-name-is-too-long" invalid`,
		`unknown protocol "gre"`,
		"rule 1: a port needs tcp or udp",
		"target v-a-0 is itself mirrored",
		"target v-b-0 is itself mirrored",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v\nwant %q", err, want)
		}
	}
	ok := Spec{Ports: []Port{{Link: "v-a-0", Name: "a.0", MAC: "02:00:00:00:00:01", SpoofGuard: true, Rate: 1e6}},
		Mirrors: []Mirror{{From: []string{"v-a-0"}, To: "capture0", Create: true}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("a valid spec: %v", err)
	}
}

func TestIFBName(t *testing.T) {
	for in, want := range map[string]string{"v-web-0": "i-web-0", "t-databas2f3a-0": "i-databas2f3a-0", "eth0": "i-eth0",
		"abcdefghijklmno": "i-abcdefghijklm"} {
		if got := IFBName(in); got != want {
			t.Errorf("IFBName(%q) = %q, want %q", in, got, want)
		}
	}
}

// With a known IPv6 address the spoof guard allows it, the EUI-64
// link-local and SLAAC addresses of the MAC and :: as sources, and
// neighbour adverts for those addresses only; without one, no IPv6 rule.
func TestSpoofGuardIPv6Rules(t *testing.T) {
	p := Port{Link: "v-ct-0", Name: "ct.0", MAC: "52:54:00:12:34:56", SpoofGuard: true,
		IPv6: netip.MustParseAddr("fd00:10::5"), SLAAC: netip.MustParsePrefix("fd00:10::/64")}
	want := []string{
		"out-v-ct-0: spoof-guard: ether saddr != 52:54:00:12:34:56 drop",
		"out-v-ct-0: spoof-guard: ip6 saddr != { fd00:10::5, fe80::5054:ff:fe12:3456, fd00:10::5054:ff:fe12:3456, :: } drop",
		"out-v-ct-0: spoof-guard: icmpv6 type nd-neighbor-advert target != { fd00:10::5, fe80::5054:ff:fe12:3456, fd00:10::5054:ff:fe12:3456 } drop",
		`prerouting: iifname "v-ct-0" jump out-v-ct-0: sent by ct.0`,
	}
	if got := RuleLines(Spec{Ports: []Port{p}}); !reflect.DeepEqual(got, want) {
		t.Errorf("rules:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	p.IPv6 = netip.Addr{}
	if got := RuleLines(Spec{Ports: []Port{p}}); len(got) != 2 {
		t.Errorf("without an IPv6 address: %q, want the MAC rule and its jump", got)
	}
	bad := Spec{Ports: []Port{{Link: "v-x-0", Name: "x.0", MAC: "52:54:00:12:34:56", IPv6: netip.MustParseAddr("10.0.0.1"), SLAAC: netip.MustParsePrefix("fd00::/48")}}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "not an IPv6 address") || !strings.Contains(err.Error(), "not an IPv6 /64") {
		t.Errorf("bad IPv6 and SLAAC prefix: %v", err)
	}
}
