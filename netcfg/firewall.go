package netcfg

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/nucbox/nucbox/internal/nftsame"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/vswitch"
)

// FirewallTable is the box's own nftables table, family inet so that one
// rule set covers IPv4 and IPv6 alike. nucbox owns it whole: rules others
// add elsewhere are never touched, and every rule in it is nucbox's.
const FirewallTable = "nucbox"

// Firewall is the box's own packet filter, complete: config/plan compiles
// it, netcfg adds no rule that is not derived from it.
//
// The lab network (whatever arrives on the link holding the box's uplink
// address) reaches every service of the box, as it always did. A segment
// (a box interface on an internal VLAN) is where workloads live: from
// there the box accepts answers to its own traffic, pings, IPv6
// neighbour discovery, router solicitations and the TCP ports the segment
// opens, and drops everything else, the API, the status page, metrics and
// VNC included, over IPv4 and IPv6 alike. The box forwards a segment's
// traffic only with NAT, only from its own subnets and only to the
// uplink, masqueraded in both families (NAT66 for IPv6: the lab's
// prefix, SLAAC or DHCPv6, is not the box's to route without a
// delegated prefix). IPv6 from a segment whose source does not route
// back through it is dropped, as the strict reverse-path filter drops
// IPv4. Other interfaces reach nothing.
type Firewall struct {
	Segments []Segment `json:"segments,omitempty"`
	// UplinkIPv6 is how the uplink's link takes IPv6 (IPv6SLAAC,
	// IPv6DHCP, IPv6Static, IPv6Off; empty is SLAAC): whether it takes
	// the lab's router adverts and makes addresses from them.
	UplinkIPv6 string `json:"uplink-ipv6,omitempty"`
}

// Segment is the box's interface on one internal VLAN.
type Segment struct {
	// Interface is the VLAN interface (vlan10).
	Interface string `json:"interface"`
	// Subnet is the segment's IPv4 prefix, Subnet6 its IPv6 one; a
	// segment has one or both. With NAT only sources inside them are
	// forwarded, so a workload cannot send spoofed sources out of the
	// uplink.
	Subnet  netip.Prefix `json:"subnet,omitzero"`
	Subnet6 netip.Prefix `json:"subnet6,omitzero"`
	// NAT makes the box the segment's router to the uplink, masqueraded
	// behind the box's uplink address, in each family it has a subnet of.
	NAT bool `json:"nat,omitempty"`
	// TCP are the box's ports the segment may reach (the API, when the
	// config opens it on the VLAN).
	TCP []uint16 `json:"tcp,omitempty"`
	// UDP are the box's UDP ports the segment may reach (DHCP and DNS,
	// where the box serves them).
	UDP []uint16 `json:"udp,omitempty"`
}

// NATs are the subnets the box routes and masquerades, IPv4 and IPv6.
func (f Firewall) NATs() []NAT {
	var out []NAT
	for _, s := range f.Segments {
		if !s.NAT {
			continue
		}
		for _, p := range []netip.Prefix{s.Subnet, s.Subnet6} {
			if p.IsValid() {
				out = append(out, NAT{Interface: s.Interface, Subnet: p})
			}
		}
	}
	return out
}

// forwards reports whether the box forwards the family of IPv6 (true)
// or IPv4 (false).
func (f Firewall) forwards(v6 bool) bool {
	for _, n := range f.NATs() {
		if n.Subnet.Addr().Is6() == v6 {
			return true
		}
	}
	return false
}

// Validate reports every inconsistency of f at once.
func (f Firewall) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, s := range f.Segments {
		where := fmt.Sprintf("firewall segment %d (%s)", i, s.Interface)
		switch {
		case s.Interface == "" || len(s.Interface) > 15:
			errs = append(errs, fmt.Errorf("%s: interface name %q is empty or longer than 15 bytes", where, s.Interface))
		case seen[s.Interface]:
			errs = append(errs, fmt.Errorf("%s: interface listed twice", where))
		}
		seen[s.Interface] = true
		switch {
		case !s.Subnet.IsValid() && !s.Subnet6.IsValid():
			errs = append(errs, fmt.Errorf("%s: no subnet", where))
		case s.Subnet.IsValid() && (s.Subnet != s.Subnet.Masked() || !s.Subnet.Addr().Is4()):
			errs = append(errs, fmt.Errorf("%s: subnet %s is not an IPv4 network prefix", where, s.Subnet))
		case s.Subnet6.IsValid() && (s.Subnet6 != s.Subnet6.Masked() || !s.Subnet6.Addr().Is6() || s.Subnet6.Addr().Is4In6()):
			errs = append(errs, fmt.Errorf("%s: subnet %s is not an IPv6 network prefix", where, s.Subnet6))
		}
		if slices.Contains(s.TCP, 0) || slices.Contains(s.UDP, 0) {
			errs = append(errs, fmt.Errorf("%s: port 0", where))
		}
	}
	return errors.Join(errs...)
}

// FirewallStatus is what ApplyFirewall found and did.
type FirewallStatus struct {
	// Rules are the table's rules, one line each, as `nft list table inet
	// nucbox` shows their comments.
	Rules []string `json:"rules"`
	// Changes counts the writes: the table when it was replaced, each
	// sysctl written. A repeated apply of the same firewall makes none.
	Changes int `json:"changes"`
}

// ApplyFirewall makes the namespace's firewall f, with uplink the link
// that holds the box's uplink address (the bridge, or the bare uplink
// after a rollback): the inet table, IPv4 forwarding on exactly when a
// segment has NAT, router adverts (SLAAC) taken on the uplink's link,
// and on each segment's interface strict reverse-path filtering, no
// router adverts and no redirects accepted.
//
// The table is compared with what the kernel has first and replaced, in
// one transaction, only when it differs: applying the same firewall twice
// changes nothing, and packets never see a half-built rule set. With the filter
// in place before forwarding goes on, and forwarding off before the filter
// changes, no packet is ever routed unfiltered.
func ApplyFirewall(ns *vswitch.Namespace, uplink string, f Firewall) (FirewallStatus, error) {
	var st FirewallStatus
	if uplink == "" {
		return st, errors.New("firewall: no uplink link: the box would drop its own network")
	}
	if err := f.Validate(); err != nil {
		return st, err
	}
	switch f.UplinkIPv6 {
	case "", IPv6SLAAC, IPv6DHCP, IPv6Static, IPv6Off:
	default:
		return st, fmt.Errorf("firewall: unknown uplink IPv6 mode %q", f.UplinkIPv6)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(ns.Handle())))
	if err != nil {
		return st, fmt.Errorf("nftables: %w", err)
	}
	want := buildFirewall(uplink, f)
	for _, ch := range want.chains {
		for _, r := range ch.rules {
			st.Rules = append(st.Rules, ch.chain.Name+": "+r.comment)
		}
	}
	same, err := observeFirewall(c, want)
	if err != nil {
		return st, fmt.Errorf("nftables table inet %s: %w", FirewallTable, err)
	}
	nat4, nat6 := f.forwards(false), f.forwards(true)
	if !nat4 || !nat6 {
		n, err := setForwardingCount(ns, nat4, nat6, false)
		st.Changes += n
		if err != nil {
			return st, err
		}
	}
	if !same {
		want.add(c)
		if err := c.Flush(); err != nil {
			return st, fmt.Errorf("nftables table inet %s: %w", FirewallTable, err)
		}
		st.Changes++
	}
	if nat4 || nat6 {
		n, err := setForwardingCount(ns, nat4, nat6, true)
		st.Changes += n
		if err != nil {
			return st, err
		}
	}
	n, err := bridgeHooksOff(ns)
	st.Changes += n
	if err != nil {
		return st, err
	}
	n, err = uplinkSysctls(ns, uplink, f.UplinkIPv6)
	st.Changes += n
	if err != nil {
		return st, err
	}
	for _, s := range f.Segments {
		n, err := segmentSysctls(ns, s.Interface)
		st.Changes += n
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

// fwRule is one rule with the comment that describes it; the comment is
// stored with the rule, so that `nft list ruleset` on the box explains
// each one.
type fwRule struct {
	comment string
	exprs   []expr.Any
}

type fwChain struct {
	chain *nftables.Chain
	rules []fwRule
}

// fwTable is the desired table, built without a connection so that it can
// be compared with the kernel's before anything is sent.
type fwTable struct {
	table  *nftables.Table
	chains []*fwChain
}

func (t *fwTable) add(c *nftables.Conn) {
	// Adding first makes the delete valid whether or not the table exists.
	c.AddTable(t.table)
	c.DelTable(t.table)
	c.AddTable(t.table)
	for _, ch := range t.chains {
		c.AddChain(ch.chain)
		for _, r := range ch.rules {
			c.AddRule(&nftables.Rule{Table: t.table, Chain: ch.chain, Exprs: r.exprs,
				UserData: userdata.AppendString(nil, userdata.TypeComment, r.comment)})
		}
	}
}

func buildFirewall(uplink string, f Firewall) *fwTable {
	t := &nftables.Table{Name: FirewallTable, Family: nftables.TableFamilyINet}
	drop := nftables.ChainPolicyDrop
	in := &fwChain{chain: &nftables.Chain{Name: "input", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &drop}}
	fwd := &fwChain{chain: &nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop}}
	add := func(ch *fwChain, comment string, exprs ...[]expr.Any) {
		r := fwRule{comment: comment}
		for _, e := range exprs {
			r.exprs = append(r.exprs, e...)
		}
		ch.rules = append(ch.rules, r)
	}
	accept := []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}
	q := strconv.Quote

	add(in, "ct state established,related accept", establishedMatch(), accept)
	add(in, `iifname "lo" accept`, ifMatch(expr.MetaKeyIIFNAME, "lo"), accept)
	add(in, "iifname "+q(uplink)+" accept: the lab network reaches every service", ifMatch(expr.MetaKeyIIFNAME, uplink), accept)
	add(in, "icmp type echo-request accept", l4Match(unix.IPPROTO_ICMP), byteAt(expr.PayloadBaseTransportHeader, 0, 8), accept)
	add(in, "icmpv6 type echo-request accept", l4Match(unix.IPPROTO_ICMPV6), byteAt(expr.PayloadBaseTransportHeader, 0, 128), accept)
	// Neighbour discovery only from the link itself: hop limit 255 is
	// what a router on the way could not have left. Router solicitations
	// reach the box's router adverts (netcfg/radvd); the box takes no
	// adverts from a segment (accept_ra is off there), so none pass.
	for _, nd := range []struct {
		name string
		typ  byte
	}{{"nd-router-solicit", 133}, {"nd-neighbor-solicit", 135}, {"nd-neighbor-advert", 136}} {
		add(in, "icmpv6 type "+nd.name+" ip6 hoplimit 255 accept", l4Match(unix.IPPROTO_ICMPV6),
			byteAt(expr.PayloadBaseTransportHeader, 0, nd.typ), byteAt(expr.PayloadBaseNetworkHeader, 7, 255), accept)
	}
	for _, s := range f.Segments {
		for _, p := range s.TCP {
			add(in, fmt.Sprintf("iifname %s tcp dport %d accept", q(s.Interface), p),
				ifMatch(expr.MetaKeyIIFNAME, s.Interface), l4Match(unix.IPPROTO_TCP), tcpDport(p), accept)
		}
		for _, p := range s.UDP {
			// The destination port sits where TCP's does.
			add(in, fmt.Sprintf("iifname %s udp dport %d accept", q(s.Interface), p),
				ifMatch(expr.MetaKeyIIFNAME, s.Interface), l4Match(unix.IPPROTO_UDP), tcpDport(p), accept)
		}
	}

	add(fwd, "ct state established,related accept", establishedMatch(), accept)
	var post *fwChain
	for _, n := range f.NATs() {
		fam := "ip"
		if n.Subnet.Addr().Is6() {
			fam = "ip6"
		}
		add(fwd, fmt.Sprintf("iifname %s oifname %s %s saddr %s accept", q(n.Interface), q(uplink), fam, n.Subnet),
			ifMatch(expr.MetaKeyIIFNAME, n.Interface), ifMatch(expr.MetaKeyOIFNAME, uplink), prefixMatch(n.Subnet), accept)
		if post == nil {
			post = &fwChain{chain: &nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
				Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource}}
		}
		add(post, fmt.Sprintf("oifname %s %s saddr %s masquerade", q(uplink), fam, n.Subnet),
			ifMatch(expr.MetaKeyOIFNAME, uplink), prefixMatch(n.Subnet), []expr.Any{&expr.Masq{}})
	}
	ft := &fwTable{table: t, chains: []*fwChain{in, fwd}}
	if pre := rpFilter6(t, f); pre != nil {
		ft.chains = append(ft.chains, pre)
	}
	if post != nil {
		ft.chains = append(ft.chains, post)
	}
	return ft
}

// rpFilter6 is IPv6's strict reverse-path filter on the segments, which
// the kernel has only for IPv4 (rp_filter): a packet from a segment
// whose source the box would not route back through it is dropped before
// it reaches the box or the forward chain. The unspecified source of
// duplicate address detection has no route and is let through.
func rpFilter6(t *nftables.Table, f Firewall) *fwChain {
	if len(f.Segments) == 0 {
		return nil
	}
	ch := &fwChain{chain: &nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityFilter}}
	for _, s := range f.Segments {
		r := fwRule{comment: fmt.Sprintf("iifname %q ip6 saddr != :: fib saddr . iif oif missing drop", s.Interface)}
		r.exprs = append(r.exprs, ifMatch(expr.MetaKeyIIFNAME, s.Interface)...)
		r.exprs = append(r.exprs,
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV6}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 16)},
			&expr.Fib{Register: 1, FlagSADDR: true, FlagIIF: true, ResultOIF: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: make([]byte, 4)},
			&expr.Verdict{Kind: expr.VerdictDrop})
		ch.rules = append(ch.rules, r)
	}
	return ch
}

func establishedMatch() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

// l4Match matches the transport protocol, in IPv4 and IPv6 alike.
func l4Match(proto byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
	}
}

func byteAt(base expr.PayloadBase, offset uint32, v byte) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: base, Offset: offset, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{v}},
	}
}

func tcpDport(port uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

// prefixMatch matches the source address against p. In an inet table the
// network header is IPv4 or IPv6, so the family is matched first.
func prefixMatch(p netip.Prefix) []expr.Any {
	family, offset, addr := byte(unix.NFPROTO_IPV4), uint32(12), p.Addr().AsSlice()
	if p.Addr().Is6() {
		family, offset = unix.NFPROTO_IPV6, 8
	}
	n := uint32(len(addr))
	mask := make([]byte, n)
	for i := range p.Bits() {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{family}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: n},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Masked().Addr().AsSlice()},
	}
}

// observeFirewall tells whether the kernel's inet table is exactly want
// (same chains, hooks, policies, and rules with the same expressions and
// comments, in order).
func observeFirewall(c *nftables.Conn, want *fwTable) (bool, error) {
	chains := make([]nftsame.Chain, 0, len(want.chains))
	for _, ch := range want.chains {
		rules := make([]nftsame.Rule, 0, len(ch.rules))
		for _, r := range ch.rules {
			rules = append(rules, nftsame.Rule{Comment: r.comment, Exprs: r.exprs})
		}
		chains = append(chains, nftsame.Chain{Chain: ch.chain, Rules: rules})
	}
	return nftsame.Same(c, want.table, chains)
}

// bridgeHooksOff keeps bridged frames out of the firewall where
// br_netfilter is loaded (the box does not load it; a config's modules
// could): its hooks would run frames switched between two ports of the
// bridge through the forward chain, whose policy drops them, and cut
// workloads on one VLAN off from each other and from the lab network.
// Layer 2 is vswitch's, with VLAN filtering.
func bridgeHooksOff(ns *vswitch.Namespace) (int, error) {
	changes := 0
	err := ns.Do(func() error {
		for _, f := range []string{"iptables", "ip6tables", "arptables"} {
			changed, err := writeSysctl("/proc/sys/net/bridge/bridge-nf-call-"+f, "0")
			if err != nil && !errors.Is(err, errNoSysctl) {
				return err
			}
			if changed {
				changes++
			}
		}
		return nil
	})
	return changes, err
}

// segmentSysctls sets what a workload segment's interface must not
// accept: packets whose source does not route back through it (strict
// reverse-path filter), IPv6 router adverts (a workload could otherwise
// give the box routes and addresses) and ICMP redirects. A kernel without
// IPv6 has no IPv6 settings to make.
func segmentSysctls(ns *vswitch.Namespace, link string) (int, error) {
	changes := 0
	err := ns.Do(func() error {
		for _, s := range []struct {
			file, value string
			optional    bool
		}{
			{"/proc/sys/net/ipv4/conf/" + link + "/rp_filter", "1", false},
			{"/proc/sys/net/ipv4/conf/" + link + "/accept_redirects", "0", false},
			{"/proc/sys/net/ipv6/conf/" + link + "/accept_ra", "0", true},
			{"/proc/sys/net/ipv6/conf/" + link + "/accept_redirects", "0", true},
		} {
			changed, err := writeSysctl(s.file, s.value)
			if err != nil && !(s.optional && errors.Is(err, errNoSysctl)) {
				return fmt.Errorf("%s: %w", link, err)
			}
			if changed {
				changes++
			}
		}
		return nil
	})
	return changes, err
}

// uplinkSysctls makes the uplink's link take the lab's router adverts
// as mode says: with SLAAC their addresses and default route, with
// DHCPv6 the routes only (the address is the lease's), with a static
// address or none neither. The bridge that took the uplink over is a new
// link whose settings are the defaults'. A kernel forwarding IPv6 ignores
// adverts unless accept_ra is 2. A kernel without IPv6 has nothing to
// set.
func uplinkSysctls(ns *vswitch.Namespace, link, mode string) (int, error) {
	changes := 0
	err := ns.Do(func() error {
		ra, autoconf := "1", "1"
		if b, err := os.ReadFile("/proc/sys/net/ipv6/conf/all/forwarding"); err == nil && strings.TrimSpace(string(b)) == "1" {
			ra = "2"
		}
		switch mode {
		case IPv6DHCP:
			autoconf = "0"
		case IPv6Static, IPv6Off:
			ra, autoconf = "0", "0"
		}
		for _, s := range []struct{ file, value string }{
			{"/proc/sys/net/ipv6/conf/" + link + "/accept_ra", ra},
			{"/proc/sys/net/ipv6/conf/" + link + "/autoconf", autoconf},
		} {
			changed, err := writeSysctl(s.file, s.value)
			if err != nil && !errors.Is(err, errNoSysctl) {
				return fmt.Errorf("%s: %w", link, err)
			}
			if changed {
				changes++
			}
		}
		return nil
	})
	return changes, err
}

// NAT is one internal subnet the box routes to the uplink and masquerades
// behind its uplink address.
type NAT struct {
	// Interface is the VLAN interface the subnet lives behind.
	Interface string       `json:"interface"`
	Subnet    netip.Prefix `json:"subnet"`
}

func (n NAT) String() string { return fmt.Sprintf("%s %s", n.Interface, n.Subnet) }

func ifMatch(key expr.MetaKey, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	}
}
