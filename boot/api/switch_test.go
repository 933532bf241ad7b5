package api

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// The MAC table and the policy counters in /metrics and the status JSON;
// the bridge's own address (local) is not counted as learnt.
func TestSwitchMetrics(t *testing.T) {
	sw := &SwitchState{
		FDB: []FDBEntry{
			{Bridge: "br0", MAC: "02:00:00:00:00:01", Port: "v-web-0", VLAN: 10},
			{Bridge: "br0", MAC: "02:00:00:00:00:02", Port: "v-web-0", VLAN: 10},
			{Bridge: "br0", MAC: "52:54:00:12:34:56", Port: "eth0", VLAN: 1, Local: true},
		},
		Policy: []PolicyCounter{{Chain: "out-v-web-0", Rule: "spoof-guard: ether saddr != 02:00:00:00:00:01 drop", Packets: 9, Drop: true}},
	}
	box := newFakeBox()
	s := New(Options{Box: box, Token: testToken, Links: fakeLinks, Logf: t.Logf, Switch: func() (*SwitchState, error) { return sw, nil }})
	ts := newHTTPTest(t, s)
	_, body := do(t, "GET", ts+"/metrics", "Bearer "+testToken, "")
	for _, want := range []string{
		`nucbox_bridge_fdb_entries{bridge="br0",port="v-web-0"} 2`,
		`nucbox_port_policy_packets_total{chain="out-v-web-0",drop="1",rule="spoof-guard: ether saddr != 02:00:00:00:00:01 drop"} 9`,
		`nucbox_link_receive_dropped_total{`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, `nucbox_bridge_fdb_entries{bridge="br0",port="eth0"}`) {
		t.Error("the bridge's own address is counted as learnt")
	}
	_, body = do(t, "GET", ts+"/v1/status", "Bearer "+testToken, "")
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Switch == nil || len(st.Switch.FDB) != 3 || st.Switch.Policy[0].Packets != 9 {
		t.Errorf("status switch: %+v", st.Switch)
	}
}

func newHTTPTest(t *testing.T, s *Server) string {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts.URL
}
