package policy

import (
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The base chains find a frame's port chain by one lookup in a verdict
// map keyed by the port's name, rather than by one rule per port: a frame
// then costs the same whichever port it comes from and however many
// ports have policies, where a rule per port made a box with 50 policed
// containers compare names 25 times per frame on average. Ports with
// nothing to check have no element, and a frame of theirs leaves the base
// chain after the lookup.

// Names of the verdict maps: the port chain of the port a frame enters
// by, and of the port it leaves by.
const (
	outMap = "out-ports"
	inMap  = "in-ports"
)

// portMap is one verdict map from port names to their chains.
type portMap struct {
	set   *nftables.Set
	elems []nftables.SetElement
}

func newPortMap(t *nftables.Table, name string) *portMap {
	return &portMap{set: &nftables.Set{Table: t, Name: name, IsMap: true,
		KeyType: nftables.TypeIFName, DataType: nftables.TypeVerdict}}
}

// add maps link to a jump to chain; the comment says whose port it is,
// as `nft list map bridge nucbox out-ports` shows it.
func (m *portMap) add(link, chain, comment string) {
	m.elems = append(m.elems, nftables.SetElement{Key: ifname(link), Comment: comment,
		VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: chain}})
}

// lookup is the dispatch rule of a base chain: the port's name, key is
// iifname or oifname, looked up in m, the verdict (a jump) taken; a port
// not in m falls through to the chain's policy.
func (m *portMap) lookup(key expr.MetaKey) []expr.Any {
	return []expr.Any{&expr.Meta{Key: key, Register: 1},
		&expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: m.set.Name}}
}

// ifname is a link name as the kernel keys it: IFNAMSIZ bytes, zero
// padded.
func ifname(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}
