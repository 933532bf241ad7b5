package api

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nucbox/nucbox/netcfg/vlancheck"
)

// TestWebPageSwitch: the network table shows each port's workload name
// and its drops, the kernel's and its policy's, and an err-disabled port
// in that state; the switch section shows the VLAN check's verdicts and
// the err-disabled port, which goes when the port is enabled.
func TestWebPageSwitch(t *testing.T) {
	chromium := chromiumPath(t)
	box := &portBox{fakeBox: newFakeBox(), disabled: []ErrDisabledPort{{Port: "web.0", Link: "v-web-0", Reason: "BPDU", Source: "02:00:00:00:00:01", Since: time.Now()}}}
	box.state.VLANCheck = []vlancheck.Result{
		{VLAN: 10, Probe: vlancheck.ProbeARP, Gateway: "10.0.10.254", State: vlancheck.Carried, Answer: "00:1b:21:00:00:0a"},
		{VLAN: 20, Probe: vlancheck.ProbeARP, Gateway: "10.0.20.254", State: vlancheck.NotCarried},
	}
	links := func() ([]Link, error) {
		ls, _ := fakeLinks()
		return append(ls, Link{Name: "v-web-0", Index: 4, Type: "veth", State: "up", Master: "br0", Port: "web.0",
			Stats: LinkStats{RxPackets: 5, TxPackets: 6, RxDropped: 2, TxDropped: 1}}), nil
	}
	sw := func() (*SwitchState, error) {
		return &SwitchState{FDB: []FDBEntry{}, Policy: []PolicyCounter{
			{Chain: "out-v-web-0", Rule: "spoof-guard: ether saddr != 02:00:00:00:00:01 drop", Packets: 4, Drop: true},
			{Chain: "in-v-web-0", Rule: "in: meta l4proto tcp th dport 23 drop", Packets: 3, Drop: true},
			{Chain: "out-v-web-0", Rule: "out: meta l4proto tcp th dport 80 accept", Packets: 100},
		}}, nil
	}
	ts := httptest.NewServer(New(Options{Box: box, Token: testToken, Links: links, Switch: sw, Logf: t.Logf}))
	t.Cleanup(ts.Close)
	ctx, step := openPage(t, chromium, ts.URL+"/", "")
	step("log in", chromedp.Steps(
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), testToken),
		chromedp.Submit(chromedp.ID("token")),
	))
	step("port listed", chromedp.WaitVisible(chromedp.CSS(`#links tbody tr[data-name="v-web-0"][data-err-disabled="true"]`)))
	tctx, c := context.WithTimeout(ctx, 20*time.Second)
	defer c()
	port, _ := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(`#links tbody tr[data-name="v-web-0"]`)))
	for _, want := range []string{"web.0", "err-disabled", "kernel 3, policy 7"} {
		if !strings.Contains(port, want) {
			t.Errorf("v-web-0's row lacks %q: %q", want, port)
		}
	}
	uplink, _ := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(`#links tbody tr[data-name="eth0"]`)))
	if !strings.Contains(uplink, "kernel 0") || strings.Contains(uplink, "policy") || strings.Contains(uplink, "err-disabled") {
		t.Errorf("eth0's row, a port without policy: %q", uplink)
	}
	sec, _ := chromedp.Run(tctx, chromedp.Text(chromedp.ID("switch")))
	for _, want := range []string{
		"VLAN 10 is carried: the gateway 10.0.10.254 answered ARP from 00:1b:21:00:00:0a",
		"the switch port does not carry VLAN 20: the gateway 10.0.20.254 did not answer ARP",
		"port web.0 (v-web-0) err-disabled since",
		"BPDU from 02:00:00:00:00:01; nucbox port enable web.0 enables it",
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("switch section lacks %q:\n%s", want, sec)
		}
	}
	if _, err := box.EnablePort("web.0"); err != nil {
		t.Fatal(err)
	}
	step("port enabled", chromedp.WaitVisible(chromedp.CSS(`#links tbody tr[data-name="v-web-0"]:not([data-err-disabled])`)))
	if sec, _ := chromedp.Run(tctx, chromedp.Text(chromedp.ID("switch"))); strings.Contains(sec, "err-disabled") {
		t.Errorf("switch section still shows the enabled port:\n%s", sec)
	}
}
