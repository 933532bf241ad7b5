package api

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// servedBox is a fake box whose DHCP server gave leases.
type servedBox struct {
	*fakeBox
	leases []ServedLease
}

func (s servedBox) ServedLeases() []ServedLease { return s.leases }

// The served leases in the status and, counted per VLAN (active only),
// in the metrics; a VLAN whose leases all expired shows 0, and a box
// without a DHCP server has no such series (the control).
func TestServedLeases(t *testing.T) {
	_, plain := newTestServer(t, newFakeBox(), false)
	if _, body := do(t, "GET", plain.URL+"/metrics", "Bearer "+testToken, ""); strings.Contains(body, "nucbox_dhcp_leases{") {
		t.Error("a box without a DHCP server has lease series")
	}
	box := servedBox{fakeBox: newFakeBox(), leases: []ServedLease{
		{VLAN: 10, MAC: "02:00:00:00:00:05", Address: "10.0.10.5", Name: "vm1", Fixed: true, Active: true, Expires: time.Now().Add(time.Hour)},
		{VLAN: 10, MAC: "02:aa:00:00:00:01", Address: "10.0.10.100", Active: true},
		{VLAN: 20, MAC: "02:aa:00:00:00:02", Address: "10.0.20.100"},
	}}
	ts := httptest.NewServer(New(Options{Box: box, Token: testToken, Links: fakeLinks, Logf: t.Logf}))
	t.Cleanup(ts.Close)
	_, body := do(t, "GET", ts.URL+"/metrics", "Bearer "+testToken, "")
	for _, want := range []string{`nucbox_dhcp_leases{vlan="10"} 2`, `nucbox_dhcp_leases{vlan="20"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	_, body = do(t, "GET", ts.URL+"/v1/status", "Bearer "+testToken, "")
	if !strings.Contains(body, `"served_leases"`) || !strings.Contains(body, `"name": "vm1"`) {
		t.Errorf("status lacks the served leases: %s", body)
	}
}
