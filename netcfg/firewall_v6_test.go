package netcfg

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/ndp"

	"github.com/nucbox/nucbox/internal/linksock"
	"github.com/nucbox/nucbox/netcfg/radvd"
	"github.com/nucbox/nucbox/vswitch/netnstest"
)

// solicitationReaches tells whether a router solicitation that from
// sends on its eth0 reaches a socket of the box listening for them on
// link, as the box's router adverts do.
func solicitationReaches(t *testing.T, from, box *netnstest.NS, link string) bool {
	t.Helper()
	// listen opens what open returns in n on link name, retrying while
	// the link-local address is still tentative.
	listen := func(n *netnstest.NS, name string, open func(*net.Interface) (*ndp.Conn, error)) *ndp.Conn {
		var c *ndp.Conn
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := n.Namespace().Do(func() error {
				ifi, err := net.InterfaceByName(name)
				if err != nil {
					return err
				}
				c, err = open(ifi)
				return err
			})
			if err == nil {
				return c
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: ndp socket on %s: %v", n.Name, name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	rc := listen(box, link, radvd.ListenSolicitations)
	defer rc.Close()
	sc := listen(from, "eth0", func(ifi *net.Interface) (*ndp.Conn, error) {
		linksock.RefreshZones()
		c, _, err := ndp.Listen(ifi, ndp.LinkLocal)
		return c, err
	})
	defer sc.Close()
	buf := make([]byte, 1500)
	for range 3 {
		// The destination's zone is a link name, resolved where the
		// write runs.
		// The zone cache is the process's: another namespace's
		// eth0 may be in it.
		err := from.Namespace().Do(func() error {
			linksock.RefreshZones()
			return sc.WriteTo(&ndp.RouterSolicitation{}, nil, netip.IPv6LinkLocalAllRouters())
		})
		if err != nil {
			t.Fatal(err)
		}
		rc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if n, _, _, err := rc.ReadRaw(buf); err == nil {
			if m, err := ndp.ParseMessage(buf[:n]); err == nil {
				if _, ok := m.(*ndp.RouterSolicitation); ok {
					return true
				}
			}
		}
	}
	return false
}

// The segment rules hold for IPv6 as for IPv4: none of the input rules
// that open the box to a segment matches an address family, so each
// covers both; the neighbour discovery the box needs, router
// solicitations included, passes only with hop limit 255; and router
// adverts find no rule of their own.
func TestFirewallRulesCoverIPv6(t *testing.T) {
	fw := Firewall{Segments: []Segment{{Interface: "vlan10", Subnet: netip.MustParsePrefix("10.0.10.0/24"),
		TCP: []uint16{8443, 53}, UDP: []uint16{53}}}}
	ft := buildFirewall("br0", fw)
	in := ft.chains[0]
	if in.chain.Name != "input" || *in.chain.Policy != nftables.ChainPolicyDrop {
		t.Fatalf("first chain %s, want input with policy drop", in.chain.Name)
	}
	nd := map[byte]bool{}
	for _, r := range in.rules {
		for i, e := range r.exprs {
			if m, ok := e.(*expr.Meta); ok && m.Key == expr.MetaKeyNFPROTO {
				t.Errorf("input rule %q matches one address family only", r.comment)
			}
			// icmpv6 type T: the byte at offset 0 of the transport header.
			if p, ok := e.(*expr.Payload); ok && p.Base == expr.PayloadBaseTransportHeader && p.Offset == 0 &&
				strings.Contains(r.comment, "icmpv6") && i+1 < len(r.exprs) {
				typ := r.exprs[i+1].(*expr.Cmp).Data[0]
				nd[typ] = strings.Contains(r.comment, "hoplimit 255")
			}
		}
	}
	for _, typ := range []byte{133, 135, 136} {
		if !nd[typ] {
			t.Errorf("ICMPv6 type %d: no rule accepting it with hop limit 255 (have %v)", typ, nd)
		}
	}
	if _, ok := nd[134]; ok {
		t.Error("router adverts from a segment are accepted")
	}
	if _, ok := nd[128]; !ok {
		t.Error("no ICMPv6 echo rule: the check above saw no ICMPv6 rule at all")
	}
}
