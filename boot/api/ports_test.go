package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// portBox is a fake box with one err-disabled port, web.0.
type portBox struct {
	*fakeBox
	disabled []ErrDisabledPort
}

func (p *portBox) State() BoxState {
	s := p.fakeBox.State()
	p.mu.Lock()
	defer p.mu.Unlock()
	s.ErrDisabled = append([]ErrDisabledPort(nil), p.disabled...)
	return s
}

func (p *portBox) EnablePort(name string) (*ErrDisabledPort, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if name != "web.0" && name != "web.1" {
		return nil, ErrNoPort
	}
	for i, d := range p.disabled {
		if d.Port == name {
			p.disabled = append(p.disabled[:i], p.disabled[i+1:]...)
			return &d, nil
		}
	}
	return nil, nil
}

func TestPortEnable(t *testing.T) {
	since := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
	box := &portBox{fakeBox: newFakeBox(), disabled: []ErrDisabledPort{{Port: "web.0", Link: "v-web-0", Reason: "BPDU", Source: "02:00:00:00:00:01", Since: since}}}
	ts := httptest.NewServer(New(Options{Box: box, Token: testToken, Links: fakeLinks, Logf: t.Logf}))
	defer ts.Close()
	auth := "Bearer " + testToken

	_, body := do(t, "GET", ts.URL+"/v1/status", auth, "")
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.ErrDisabled) != 1 || st.ErrDisabled[0].Source != "02:00:00:00:00:01" {
		t.Errorf("status: %v\n%s", err, body)
	}
	if m := metricsText(t, ts.URL, auth); !strings.Contains(m, `nucbox_port_err_disabled{link="v-web-0",port="web.0",reason="BPDU"} 1`) {
		t.Errorf("metrics without the err-disabled port:\n%s", m)
	}
	resp, _ := do(t, "POST", ts.URL+"/v1/ports/web.0/enable", "", "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("enable without the token: %d", resp.StatusCode)
	}
	resp, body = do(t, "POST", ts.URL+"/v1/ports/web.0/enable", auth, "")
	var pr PortResponse
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &pr) != nil || pr.Was == nil || pr.Was.Reason != "BPDU" {
		t.Errorf("enable: %d\n%s", resp.StatusCode, body)
	}
	if m := metricsText(t, ts.URL, auth); strings.Contains(m, "nucbox_port_err_disabled{") {
		t.Errorf("metrics still show the port enabled:\n%s", m)
	}
	resp, body = do(t, "POST", ts.URL+"/v1/ports/web.1/enable", auth, "")
	if pr = (PortResponse{}); resp.StatusCode != 200 || json.Unmarshal([]byte(body), &pr) != nil || pr.Was != nil {
		t.Errorf("enable of a forwarding port: %d\n%s", resp.StatusCode, body)
	}
	resp, body = do(t, "POST", ts.URL+"/v1/ports/nosuch.0/enable", auth, "")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "nosuch.0") {
		t.Errorf("unknown port: %d\n%s", resp.StatusCode, body)
	}
}

func metricsText(t *testing.T, url, auth string) string {
	t.Helper()
	_, body := do(t, "GET", url+"/metrics", auth, "")
	return body
}
