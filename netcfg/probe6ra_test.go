package netcfg

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// With SLAAC or DHCPv6 the takeover probes the IPv6 router the uplink
// learnt from adverts (its default route of protocol ra, made here by
// hand as the kernel makes it from an advert): a router that answers
// through the bridge lets the takeover stand; one that does not rolls it
// back with IPv4, in both modes. Without such a route (the control)
// there is no IPv6 probe and the takeover stands.
func TestRARouterProbed(t *testing.T) {
	for _, tc := range []struct {
		name, mode string
		router     string // "" none, "lan" the LAN's router
		rollback   bool
	}{
		{"no advert", IPv6SLAAC, "", false},
		{"slaac router answers", IPv6SLAAC, "lan", false},
		{"slaac router gone", IPv6SLAAC, "fe80::77", true},
		{"dhcp router gone", IPv6DHCP, "fe80::77", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, lanRouter := v6Lab(t)
			var router netip.Addr
			switch tc.router {
			case "":
			case "lan":
				router = lanRouter
			default:
				router = netip.MustParseAddr(tc.router)
			}
			if router.IsValid() {
				r := &netlink.Route{LinkIndex: l.box.Link(t, "eth0").Attrs().Index, Gw: net.IP(router.AsSlice()),
					Protocol: unix.RTPROT_RA, Dst: &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}}
				if err := l.box.H.RouteAdd(r); err != nil {
					t.Fatalf("default route via %s proto ra: %v", router, err)
				}
			}
			m := l.manager(t)
			spec := staticSpec()
			spec.IPv6 = IPv6{Mode: tc.mode}
			spec.Probe.Timeout = 500 * time.Millisecond
			st, err := m.Apply(context.Background(), spec)
			enslaved := l.box.Link(t, "eth0").Attrs().MasterIndex != 0
			if tc.rollback {
				if !errors.Is(err, ErrRolledBack) || enslaved {
					t.Fatalf("Apply: %v, eth0 enslaved %v; want a rollback", err, enslaved)
				}
				if st.Probe6 == nil || st.Probe6.OK || st.Probe6.Target != router {
					t.Errorf("IPv6 probe %+v, want a failed one of %s", st.Probe6, router)
				}
				if got := l.box.Addrs(t, "eth0"); len(got) != 1 || got[0].String() != boxAddr {
					t.Errorf("eth0 IPv4 addresses %v, want %s back", got, boxAddr)
				}
				t.Logf("Apply: %v", err)
				return
			}
			if err != nil || !enslaved {
				t.Fatalf("Apply: %v, eth0 enslaved %v", err, enslaved)
			}
			switch {
			case !router.IsValid() && st.Probe6 != nil:
				t.Errorf("IPv6 probe %+v without a router from adverts", st.Probe6)
			case router.IsValid() && (st.Probe6 == nil || !st.Probe6.OK || st.Probe6.Target != router || st.Probe6.Link != "br0"):
				t.Errorf("IPv6 probe %+v, want %s answering on br0", st.Probe6, router)
			case router.IsValid():
				t.Logf("router %s answered through br0 after %v", router, st.Probe6.Elapsed)
			}
		})
	}
}
