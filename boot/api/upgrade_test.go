package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// upgradeBox is fakeBox booted from slot a, or from no slot at all.
type upgradeBox struct {
	*fakeBox
	noSlots bool
	images  [][]byte
	tries   []int
}

func (b *upgradeBox) Upgrade(image []byte, tries int) (UpgradeResult, error) {
	switch {
	case b.noSlots:
		return UpgradeResult{}, fmt.Errorf("%w: booted over PXE", ErrNoSlots)
	case !bytes.HasPrefix(image, []byte("MZ")):
		return UpgradeResult{}, fmt.Errorf("%w: no PE header", ErrBadImage)
	}
	b.images = append(b.images, image)
	b.tries = append(b.tries, tries)
	return UpgradeResult{From: "a", Slot: "b", File: "nucbox-b+3.efi", Generation: 2, Tries: 3, Bytes: len(image)}, nil
}

func TestUpgradeEndpoint(t *testing.T) {
	box := &upgradeBox{fakeBox: newFakeBox()}
	ts := httptest.NewServer(New(Options{Box: box, Token: testToken, Links: fakeLinks}))
	defer ts.Close()
	auth := "Bearer " + testToken

	resp, body := do(t, "POST", ts.URL+"/v1/upgrade?tries=2&reboot=true", auth, "MZ image")
	var res UpgradeResult
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &res) != nil || res.Slot != "b" || !res.Rebooting {
		t.Fatalf("upgrade: %d\n%s", resp.StatusCode, body)
	}
	if len(box.images) != 1 || string(box.images[0]) != "MZ image" || box.tries[0] != 2 {
		t.Errorf("box got %q with tries %v", box.images, box.tries)
	}
	if p := box.powerLog(); len(p) != 1 || p[0] != Reboot {
		t.Errorf("power requests %v, want one reboot", p)
	}

	resp, body = do(t, "POST", ts.URL+"/v1/upgrade", auth, "MZ image")
	if res = (UpgradeResult{}); resp.StatusCode != 200 || json.Unmarshal([]byte(body), &res) != nil || res.Rebooting || box.tries[1] != 0 {
		t.Errorf("upgrade without reboot: %d\n%s (tries %v)", resp.StatusCode, body, box.tries)
	}
	if p := box.powerLog(); len(p) != 1 {
		t.Errorf("an upgrade without reboot=true asked for power %v", p)
	}

	for _, tc := range []struct {
		query, body, auth string
		code              int
		msg               string
	}{
		{"", "MZ image", "", http.StatusUnauthorized, ""},
		{"", "MZ image", "Bearer wrong-token-0123456789abcdef", http.StatusUnauthorized, ""},
		{"?tries=0", "MZ image", auth, http.StatusBadRequest, "want 1 to 9"},
		{"?tries=x", "MZ image", auth, http.StatusBadRequest, "want 1 to 9"},
		{"", "", auth, http.StatusBadRequest, "no image"},
		{"", "#!/bin/sh", auth, http.StatusBadRequest, "not a nucbox image"},
	} {
		resp, body := do(t, "POST", ts.URL+"/v1/upgrade"+tc.query, tc.auth, tc.body)
		if resp.StatusCode != tc.code || !strings.Contains(body, tc.msg) {
			t.Errorf("%s %q: %d %s; want %d with %q", tc.query, tc.body, resp.StatusCode, body, tc.code, tc.msg)
		}
	}
	if len(box.images) != 2 {
		t.Errorf("refused requests reached the box: %d images", len(box.images))
	}

	box.noSlots = true
	if resp, body := do(t, "POST", ts.URL+"/v1/upgrade", auth, "MZ image"); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "PXE") {
		t.Errorf("box without slots: %d %s", resp.StatusCode, body)
	}

	// A box that cannot be upgraded at all.
	plain := httptest.NewServer(New(Options{Box: newFakeBox(), Token: testToken, Links: fakeLinks}))
	defer plain.Close()
	if resp, _ := do(t, "POST", plain.URL+"/v1/upgrade", auth, "MZ image"); resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("box without Upgrader: %d, want 501", resp.StatusCode)
	}
}

func (b *fakeBox) powerLog() []PowerAction {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]PowerAction(nil), b.power...)
}
