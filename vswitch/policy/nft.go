package policy

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/nucbox/nucbox/internal/nftsame"
	"golang.org/x/sys/unix"
)

// Table is the name of nucbox's nftables table of the bridge family. The
// inet table of the same name (netcfg's firewall) is another table.
const Table = "nucbox"

// bridgeFilterPriority is the bridge family's "filter" priority
// (NF_BR_PRI_FILTER_BRIDGED).
const bridgeFilterPriority = -200

// rule is one nftables rule with the comment that says what it does; the
// comment is stored with the rule, so `nft list table bridge nucbox` on
// the box explains each one.
type rule struct {
	comment string
	exprs   []expr.Any
}

type chain struct {
	chain *nftables.Chain
	rules []rule
}

// table is the desired table, built without a connection so that it can
// be shown by plan, tested, and compared with the kernel's.
type table struct {
	table  *nftables.Table
	chains []*chain
	// maps are the port dispatch's verdict maps (dispatch.go).
	maps []*portMap
}

// Rules lists the table's rules as "CHAIN: COMMENT", in order, and the
// maps' elements as "MAP: COMMENT".
func (t *table) Rules() []string {
	var out []string
	for _, c := range t.chains {
		for _, r := range c.rules {
			out = append(out, c.chain.Name+": "+r.comment)
		}
	}
	for _, m := range t.maps {
		for _, e := range m.elems {
			out = append(out, m.set.Name+": "+e.Comment)
		}
	}
	return out
}

// RuleLines is the rules Build makes of s, one line each as plan shows
// them; nil when s needs no table.
func RuleLines(s Spec) []string { return build(s).Rules() }

// build makes the table for s; a spec without ports makes a table with no
// chains, which Apply deletes. Only ports with something to check get a
// chain and an element in a dispatch map, and a hook is only there when
// some port needs it, so that frames of ports without policy cross no
// rule and a box without in rules has no postrouting hook.
func build(s Spec) *table {
	t := &nftables.Table{Name: Table, Family: nftables.TableFamilyBridge}
	tb := &table{table: t}
	if len(s.Ports) == 0 {
		return tb
	}
	prio := nftables.ChainPriorityRef(bridgeFilterPriority)
	accept := nftables.ChainPolicyAccept
	pre := &chain{chain: &nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: prio, Policy: &accept}}
	post := &chain{chain: &nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPostrouting, Priority: prio, Policy: &accept}}
	outs := &dispatch{key: expr.MetaKeyIIFNAME, name: outMap, what: "sent by"}
	ins := &dispatch{key: expr.MetaKeyOIFNAME, name: inMap, what: "delivered to"}
	var ports []*chain
	for _, p := range s.Ports {
		out := &chain{chain: &nftables.Chain{Name: "out-" + p.Link, Table: t}}
		in := &chain{chain: &nftables.Chain{Name: "in-" + p.Link, Table: t}}
		if p.BPDUGuard && !p.ErrDisabled {
			ports = append(ports, bpduChain(t, p))
			tb.maps = append(tb.maps, &portMap{dynamic: true, set: &nftables.Set{Table: t, Name: bpduSet(p.Link),
				KeyType: nftables.TypeEtherAddr, Dynamic: true, Size: bpduSources}})
		}
		portRules(p, out, in)
		if len(out.rules) > 0 {
			ports = append(ports, out)
			outs.add(p.Link, out.chain.Name, p.Name)
		}
		if len(in.rules) > 0 {
			ports = append(ports, in)
			ins.add(p.Link, in.chain.Name, p.Name)
		}
	}
	// Regular chains first: a jump must name a chain that exists.
	tb.chains = ports
	for _, d := range []struct {
		dispatch *dispatch
		base     *chain
	}{{outs, pre}, {ins, post}} {
		if len(d.dispatch.ports) == 0 {
			continue
		}
		if m := d.dispatch.build(t, d.base); m != nil {
			tb.maps = append(tb.maps, m)
		}
		tb.chains = append(tb.chains, d.base)
	}
	return tb
}

// portRules fills a port's out chain (frames it sends) and in chain
// (frames delivered to it). The guards come first, so that a spoofed frame
// neither passes an allow rule nor spends the port's rate.
func portRules(p Port, out, in *chain) {
	drop := verdict(expr.VerdictDrop)
	if p.ErrDisabled {
		add(out, "err-disabled: drop every frame the port sends", counter(), drop)
		add(in, "err-disabled: drop every frame delivered to the port", counter(), drop)
		return
	}
	if p.BPDUGuard {
		for _, d := range []struct{ mac, what string }{
			{"01:80:c2:00:00:00", "802.1D/RSTP/MSTP"}, {"01:00:0c:cc:cc:cd", "PVST+"},
		} {
			mac, _ := net.ParseMAC(d.mac)
			add(out, "bpdu-guard: ether daddr "+d.mac+" jump bpdu-"+p.Link+" ("+d.what+" BPDUs)", payloadEq(expr.PayloadBaseLLHeader, 0, mac),
				[]expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: "bpdu-" + p.Link}})
		}
	}
	if p.SpoofGuard {
		mac, _ := net.ParseMAC(p.MAC)
		add(out, "spoof-guard: ether saddr != "+mac.String()+" drop", payloadNeq(expr.PayloadBaseLLHeader, 6, mac), counter(), drop)
		if p.IPv4.Is4() {
			a, zero := p.IPv4.AsSlice(), make([]byte, 4)
			add(out, "spoof-guard: ip saddr != { "+p.IPv4.String()+", 0.0.0.0 } drop", protocol(unix.ETH_P_IP),
				load(expr.PayloadBaseNetworkHeader, 12, 4), neq(a), neq(zero), counter(), drop)
			// The sender address of an Ethernet/IPv4 ARP packet.
			add(out, "spoof-guard: arp saddr ip != { "+p.IPv4.String()+", 0.0.0.0 } drop", protocol(unix.ETH_P_ARP),
				load(expr.PayloadBaseNetworkHeader, 14, 4), neq(a), neq(zero), counter(), drop)
		}
		if srcs := p.IPv6Sources(); len(srcs) > 0 {
			var names []string
			var ne []expr.Any
			for _, a := range srcs {
				names = append(names, a.String())
				ne = append(ne, neq(a.AsSlice())...)
			}
			set := strings.Join(names, ", ")
			add(out, "spoof-guard: ip6 saddr != { "+set+", :: } drop", protocol(unix.ETH_P_IPV6),
				load(expr.PayloadBaseNetworkHeader, 8, 16), ne, neq(make([]byte, 16)), counter(), drop)
			// A neighbour advert for another's address (sent from the
			// port's own) would take that address's traffic.
			add(out, "spoof-guard: icmpv6 type nd-neighbor-advert target != { "+set+" } drop", protocol(unix.ETH_P_IPV6),
				l4(unix.IPPROTO_ICMPV6), payloadEq(expr.PayloadBaseTransportHeader, 0, []byte{136}),
				load(expr.PayloadBaseTransportHeader, 8, 16), ne, counter(), drop)
		}
	}
	if p.RAGuard {
		add(out, "ra-guard: icmpv6 type nd-router-advert drop", protocol(unix.ETH_P_IPV6), l4(unix.IPPROTO_ICMPV6),
			payloadEq(expr.PayloadBaseTransportHeader, 0, []byte{134}), counter(), drop)
		add(out, "ra-guard: icmpv6 type nd-redirect drop", protocol(unix.ETH_P_IPV6), l4(unix.IPPROTO_ICMPV6),
			payloadEq(expr.PayloadBaseTransportHeader, 0, []byte{137}), counter(), drop)
	}
	for _, r := range p.Rules {
		c := out
		if r.In {
			c = in
		}
		add(c, r.String(), r.match(), counter(), verdictOf(r.Allow))
	}
	if p.DefaultDeny {
		add(out, "default deny: meta protocol ip drop", protocol(unix.ETH_P_IP), counter(), drop)
		add(out, "default deny: meta protocol ip6 drop", protocol(unix.ETH_P_IPV6), counter(), drop)
	}
}

// bpduChain is where a port's BPDUs go: their source into the port's
// set, where the box finds it and err-disables the port (errdisable.go),
// then the drop. The drop is a rule of its own, since an add to a full
// set ends its rule; the frames of the port that are no BPDUs meet only
// the port chain's compares.
func bpduChain(t *nftables.Table, p Port) *chain {
	c := &chain{chain: &nftables.Chain{Name: "bpdu-" + p.Link, Table: t}}
	add(c, "bpdu-guard: add @"+bpduSet(p.Link)+" { ether saddr } (the source, for the err-disable)",
		load(expr.PayloadBaseLLHeader, 6, 6), []expr.Any{&expr.Dynset{SrcRegKey: 1, SetName: bpduSet(p.Link), Operation: unix.NFT_DYNSET_OP_ADD}})
	add(c, "bpdu-guard: drop (BPDUs of "+p.Name+")", counter(), verdict(expr.VerdictDrop))
	return c
}

// String is the rule as nft would write it.
func (r Rule) String() string {
	s := "out:"
	if r.In {
		s = "in:"
	}
	switch r.Proto {
	case "tcp", "udp":
		s += " meta l4proto " + r.Proto
		if r.Port != 0 {
			s += " th dport " + strconv.Itoa(int(r.Port))
		}
	case "icmp":
		s += " meta l4proto icmp"
	case "icmpv6":
		s += " meta l4proto icmpv6"
	}
	if r.CIDR.IsValid() {
		fam, dir := "ip", "daddr"
		if r.CIDR.Addr().Is6() {
			fam = "ip6"
		}
		if r.In {
			dir = "saddr"
		}
		s += " " + fam + " " + dir + " " + r.CIDR.String()
	}
	if r.Allow {
		return s + " accept"
	}
	return s + " drop"
}

func (r Rule) match() []expr.Any {
	var e []expr.Any
	switch r.Proto {
	case "tcp":
		e = append(e, l4(unix.IPPROTO_TCP)...)
	case "udp":
		e = append(e, l4(unix.IPPROTO_UDP)...)
	case "icmp":
		e = append(e, protocol(unix.ETH_P_IP)...)
		e = append(e, l4(unix.IPPROTO_ICMP)...)
	case "icmpv6":
		e = append(e, protocol(unix.ETH_P_IPV6)...)
		e = append(e, l4(unix.IPPROTO_ICMPV6)...)
	}
	if r.Port != 0 {
		// TCP's and UDP's destination ports sit at the same offset.
		e = append(e, payloadEq(expr.PayloadBaseTransportHeader, 2, binaryutil.BigEndian.PutUint16(r.Port))...)
	}
	if r.CIDR.IsValid() {
		e = append(e, prefixMatch(r.CIDR, !r.In)...)
	}
	return e
}

// prefixMatch matches the IP source (or, with dst, destination) against
// p; the ether type comes first, as the bridge sees every protocol.
func prefixMatch(p netip.Prefix, dst bool) []expr.Any {
	proto, offset := uint16(unix.ETH_P_IP), uint32(12)
	if p.Addr().Is6() {
		proto, offset = unix.ETH_P_IPV6, 8
	}
	addr := p.Masked().Addr().AsSlice()
	n := uint32(len(addr))
	if dst {
		offset += n
	}
	mask := make([]byte, n)
	for i := range p.Bits() {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return append(protocol(proto),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: n},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr},
	)
}

func add(c *chain, comment string, exprs ...[]expr.Any) {
	r := rule{comment: comment}
	for _, e := range exprs {
		r.exprs = append(r.exprs, e...)
	}
	c.rules = append(c.rules, r)
}

// protocol matches the frame's ether type (after any VLAN tag the
// bridge has taken off).
func protocol(p uint16) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p)}}
}

func l4(proto byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}}}
}

func load(base expr.PayloadBase, offset, n uint32) []expr.Any {
	return []expr.Any{&expr.Payload{DestRegister: 1, Base: base, Offset: offset, Len: n}}
}

func neq(v []byte) []expr.Any {
	return []expr.Any{&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: v}}
}

func payloadEq(base expr.PayloadBase, offset uint32, v []byte) []expr.Any {
	return append(load(base, offset, uint32(len(v))), &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: v})
}

func payloadNeq(base expr.PayloadBase, offset uint32, v []byte) []expr.Any {
	return append(load(base, offset, uint32(len(v))), neq(v)...)
}

func counter() []expr.Any { return []expr.Any{&expr.Counter{}} }

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }

func verdictOf(allow bool) []expr.Any {
	if allow {
		return verdict(expr.VerdictAccept)
	}
	return verdict(expr.VerdictDrop)
}

// send queues the replacement of the kernel's table by t on c: adding
// first makes the delete valid whether or not the table exists, and the
// whole of it is one transaction at c.Flush. The maps come after the
// chains their elements jump to and before the rules that look them up.
func (t *table) send(c *nftables.Conn) error {
	c.AddTable(t.table)
	c.DelTable(t.table)
	if len(t.chains) == 0 {
		return nil
	}
	c.AddTable(t.table)
	for _, ch := range t.chains {
		c.AddChain(ch.chain)
	}
	for _, m := range t.maps {
		if err := c.AddSet(m.set, m.elems); err != nil {
			return fmt.Errorf("map %s: %w", m.set.Name, err)
		}
	}
	for _, ch := range t.chains {
		for _, r := range ch.rules {
			c.AddRule(&nftables.Rule{Table: t.table, Chain: ch.chain, Exprs: r.exprs,
				UserData: userdata.AppendString(nil, userdata.TypeComment, r.comment)})
		}
	}
	return nil
}

// same tells whether the kernel's table is exactly t: the same chains
// with the same hooks, rules with the same expressions and comments in
// order, and maps with the same elements. Counters are compared without
// their values.
func (t *table) same(c *nftables.Conn) (bool, error) {
	chains := make([]nftsame.Chain, 0, len(t.chains))
	for _, ch := range t.chains {
		rules := make([]nftsame.Rule, 0, len(ch.rules))
		for _, r := range ch.rules {
			rules = append(rules, nftsame.Rule{Comment: r.comment, Exprs: r.exprs})
		}
		chains = append(chains, nftsame.Chain{Chain: ch.chain, Rules: rules})
	}
	maps := make([]nftsame.Map, 0, len(t.maps))
	for _, m := range t.maps {
		maps = append(maps, nftsame.Map{Set: m.set, Elems: m.elems, Dynamic: m.dynamic})
	}
	same, err := nftsame.Same(c, t.table, chains)
	if err != nil || !same {
		return same, err
	}
	return nftsame.SameMaps(c, t.table, maps)
}

// tableExists reports whether the kernel has the box's bridge table.
func tableExists(c *nftables.Conn) (bool, error) {
	return nftsame.Exists(c, &nftables.Table{Family: nftables.TableFamilyBridge, Name: Table})
}
