package nftsame

import (
	"bytes"
	"encoding/binary"
	"strings"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// Map is a wanted verdict map and its elements.
type Map struct {
	Set   *nftables.Set
	Elems []nftables.SetElement
	// Dynamic is a set the rules fill: its elements are state, not
	// config, and are not compared.
	Dynamic bool
}

// SameMaps reports whether the kernel's table t holds exactly maps among
// its named sets: no other, each a map with the same elements (key,
// verdict and comment, in any order, as the kernel lists a hash in its
// own). The set's key and data types are not compared: the nftables
// library reads a verdict map's data type into its key type; the
// elements' keys and verdicts say the same.
func SameMaps(c *nftables.Conn, t *nftables.Table, maps []Map) (bool, error) {
	// The kernel answers a list of an absent table's sets with ENOENT;
	// an absent table has exactly no maps.
	exists, err := Exists(c, t)
	if err != nil || !exists {
		return !exists && len(maps) == 0, err
	}
	sets, err := c.GetSets(t)
	if err != nil {
		return false, err
	}
	have := map[string]*nftables.Set{}
	for _, s := range sets {
		if !s.Anonymous {
			have[s.Name] = s
		}
	}
	if len(have) != len(maps) {
		return false, nil
	}
	for _, w := range maps {
		h := have[w.Set.Name]
		if h == nil || h.IsMap != w.Set.IsMap {
			return false, nil
		}
		if w.Dynamic {
			continue
		}
		elems, err := c.GetSetElements(h)
		if err != nil {
			return false, err
		}
		if !sameElems(elems, w.Elems) {
			return false, nil
		}
	}
	return true, nil
}

// sameElems compares the kernel's elements of a verdict map with the
// wanted ones.
func sameElems(have, want []nftables.SetElement) bool {
	if len(have) != len(want) {
		return false
	}
	byKey := map[string]nftables.SetElement{}
	for _, e := range have {
		byKey[string(e.Key)] = e
	}
	for _, w := range want {
		h, ok := byKey[string(w.Key)]
		if !ok || h.Comment != w.Comment || !sameVerdict(h, w) {
			return false
		}
	}
	return true
}

// sameVerdict compares the verdict the kernel lists for h (the library
// leaves it encoded in Val: a verdict code and a chain name as netlink
// attributes) with w's VerdictData.
func sameVerdict(h, w nftables.SetElement) bool {
	if w.VerdictData == nil {
		return bytes.Equal(h.Val, w.Val)
	}
	code, chain, ok := decodeVerdict(h.Val)
	return ok && code == int32(w.VerdictData.Kind) && chain == w.VerdictData.Chain
}

// decodeVerdict reads NFTA_VERDICT_CODE and NFTA_VERDICT_CHAIN from the
// attributes of an element's NFTA_DATA_VERDICT.
func decodeVerdict(b []byte) (code int32, chain string, ok bool) {
	for len(b) >= 4 {
		n := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		if n < 4 || n > len(b) {
			return 0, "", false
		}
		v := b[4:n]
		switch typ {
		case unix.NFTA_VERDICT_CODE:
			if len(v) != 4 {
				return 0, "", false
			}
			code, ok = int32(binary.BigEndian.Uint32(v)), true
		case unix.NFTA_VERDICT_CHAIN:
			chain = strings.TrimRight(string(v), "\x00")
		}
		b = b[min(len(b), (n+3)&^3):]
	}
	return code, chain, ok
}
