package api

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// dualBox is a fake box with a DHCPv6 lease beside its DHCP one.
type dualBox struct {
	*fakeBox
	lease6 *Lease
}

func (d dualBox) UplinkLease6() *Lease { return d.lease6 }

// The box's own leases on the lab network in the metrics, IPv4 and IPv6
// alike: address and state, expiry, renewals. A box without leases (the
// control) has no such series.
func TestUplinkLeaseMetrics(t *testing.T) {
	_, plain := newTestServer(t, newFakeBox(), false)
	if _, body := do(t, "GET", plain.URL+"/metrics", "Bearer "+testToken, ""); strings.Contains(body, "nucbox_uplink_lease") {
		t.Error("a box without leases has uplink lease series")
	}
	exp := time.Unix(1_900_000_000, 0)
	box := dualBox{fakeBox: newFakeBox(), lease6: &Lease{Link: "br0", Address: "2001:db8:99::100/128", State: "rebinding", Expiry: exp, Renewals: 3}}
	box.lease = &Lease{Link: "br0", Address: "10.99.0.5/24", State: "bound", Expiry: exp.Add(time.Hour), Renewals: 1}
	ts := httptest.NewServer(New(Options{Box: box, Token: testToken, Links: fakeLinks, Logf: t.Logf}))
	t.Cleanup(ts.Close)
	_, body := do(t, "GET", ts.URL+"/metrics", "Bearer "+testToken, "")
	for _, want := range []string{
		`nucbox_uplink_lease{address="2001:db8:99::100/128",family="ipv6",link="br0",state="rebinding"} 1`,
		`nucbox_uplink_lease{address="10.99.0.5/24",family="ipv4",link="br0",state="bound"} 1`,
		`nucbox_uplink_lease_expiry_timestamp_seconds{family="ipv6"} 1.9e+09`,
		`nucbox_uplink_lease_expiry_timestamp_seconds{family="ipv4"} 1.9000036e+09`,
		`nucbox_uplink_lease_renewals_total{family="ipv6"} 3`,
		`nucbox_uplink_lease_renewals_total{family="ipv4"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
