package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// heldBox refuses to start its workloads: they are held.
type heldBox struct{ *fakeBox }

func (heldBox) Control(ctx context.Context, name string, a WorkloadAction) (Workload, error) {
	return Workload{}, fmt.Errorf("container %s cannot run: %w: needs /var/lib/nucbox/keep, and the data partition is not mounted", name, ErrHeld)
}

// A start request for a held workload is a conflict with the box's
// state, answered with 409 and the reason, not a server error.
func TestStartHeldWorkload(t *testing.T) {
	ts := httptest.NewServer(New(Options{Box: heldBox{newFakeBox()}, Token: testToken, Links: fakeLinks, Logf: t.Logf}))
	defer ts.Close()
	resp, body := do(t, "POST", ts.URL+"/v1/workloads/keeper/start", "Bearer "+testToken, "")
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "the data partition is not mounted") {
		t.Errorf("start of a held workload: %d %s; want 409 with the reason", resp.StatusCode, body)
	}
}
