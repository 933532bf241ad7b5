package netcfg

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/vswitch"
)

// NATTable is the IPv4 nftables table ApplyNAT owns. Everything it
// routes and masquerades lives there and nowhere else, so rules others add
// (or a debugging session adds) are never touched, and replacing the table
// replaces all of the box's rules at once. ApplyFirewall removes it: its
// inet table of the same name carries the same NAT rules.
const NATTable = "nucbox"

// NAT is one internal subnet the box routes to the uplink and masquerades
// behind its uplink address.
type NAT struct {
	// Interface is the VLAN interface the subnet lives behind.
	Interface string       `json:"interface"`
	Subnet    netip.Prefix `json:"subnet"`
}

func (n NAT) String() string { return fmt.Sprintf("%s %s", n.Interface, n.Subnet) }

// ApplyNAT makes the namespace route and masquerade the given subnets out
// of uplink (the link that holds the box's uplink address): IPv4
// forwarding on, a masquerade for each subnet leaving by uplink, and a
// forward filter that drops everything but new traffic from a NAT
// interface to the uplink and the answers to it. The filter is what keeps
// VLANs apart at layer 3 once the box forwards at all: the lab network
// cannot open connections into a VLAN, nor one VLAN into another.
//
// The table is replaced in one transaction, so a repeated apply never
// duplicates rules and packets never see a half-built rule set. Without
// subnets the table is removed and forwarding switched off again.
//
// Deprecated: ApplyFirewall does the same in an inet table, together with
// the box's input filter, for IPv4 and IPv6.
func ApplyNAT(ns *vswitch.Namespace, uplink string, nats []NAT) error {
	if len(nats) > 0 && uplink == "" {
		return fmt.Errorf("NAT: no uplink link to masquerade behind")
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(ns.Handle())))
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Name: NATTable, Family: nftables.TableFamilyIPv4}
	// Adding first makes the delete valid whether or not the table exists.
	c.AddTable(t)
	c.DelTable(t)
	if len(nats) > 0 {
		natRules(c, c.AddTable(t), uplink, nats)
	}
	// With the filter in place before forwarding goes on, and forwarding
	// off before the filter goes away, no packet is ever routed unfiltered.
	if len(nats) == 0 {
		if err := setForwarding(ns, false); err != nil {
			return err
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables table %s: %w", NATTable, err)
	}
	if len(nats) > 0 {
		return setForwarding(ns, true)
	}
	return nil
}

func natRules(c *nftables.Conn, t *nftables.Table, uplink string, nats []NAT) {
	drop := nftables.ChainPolicyDrop
	fwd := c.AddChain(&nftables.Chain{
		Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop,
	})
	post := c.AddChain(&nftables.Chain{
		Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource,
	})
	c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Verdict{Kind: expr.VerdictAccept},
	}})
	for _, n := range nats {
		c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: append(append(
			ifMatch(expr.MetaKeyIIFNAME, n.Interface), ifMatch(expr.MetaKeyOIFNAME, uplink)...),
			&expr.Verdict{Kind: expr.VerdictAccept})})
		c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: append(append(
			srcMatch(n.Subnet), ifMatch(expr.MetaKeyOIFNAME, uplink)...),
			&expr.Masq{})})
	}
}

func ifMatch(key expr.MetaKey, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	}
}

func srcMatch(p netip.Prefix) []expr.Any {
	addr := p.Addr().As4()
	mask := netipMask(p.Bits())
	return []expr.Any{
		// The IPv4 source address: 4 bytes at offset 12 of the header.
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr[:]},
	}
}

func netipMask(bits int) []byte {
	v := ^uint32(0) << (32 - bits)
	return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// setForwarding writes the namespace's IPv4 forwarding switch.
func setForwarding(ns *vswitch.Namespace, on bool) error {
	_, err := setForwardingCount(ns, on)
	return err
}
