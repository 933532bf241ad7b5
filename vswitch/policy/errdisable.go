package policy

import (
	"net"
	"strings"

	"github.com/google/nftables"

	"github.com/nucbox/nucbox/vswitch"
)

// bpduSources bounds a port's set of BPDU sources: the first source is
// what the box needs, and the set must not grow without end.
const bpduSources = 16

// bpduPrefix names the set of the sources of BPDUs a port sent.
const bpduPrefix = "bpdu-"

func bpduSet(link string) string { return bpduPrefix + link }

// BPDUSources lists, by port link, the source MACs of the BPDUs that the
// BPDU guard dropped since the table was last replaced; nil when none
// was (or there is no table).
func BPDUSources(ns *vswitch.Namespace) (map[string][]net.HardwareAddr, error) {
	c, err := nftables.New(nftables.WithNetNSFd(int(ns.Handle())))
	if err != nil {
		return nil, err
	}
	if ok, err := tableExists(c); err != nil || !ok {
		return nil, err
	}
	sets, err := c.GetSets(&nftables.Table{Name: Table, Family: nftables.TableFamilyBridge})
	if err != nil {
		return nil, err
	}
	var out map[string][]net.HardwareAddr
	for _, s := range sets {
		link, ok := strings.CutPrefix(s.Name, bpduPrefix)
		if !ok || s.Anonymous {
			continue
		}
		elems, err := c.GetSetElements(s)
		if err != nil {
			return out, err
		}
		for _, e := range elems {
			if len(e.Key) < 6 {
				continue
			}
			if out == nil {
				out = map[string][]net.HardwareAddr{}
			}
			out[link] = append(out[link], net.HardwareAddr(append([]byte(nil), e.Key[:6]...)))
		}
	}
	return out, nil
}
