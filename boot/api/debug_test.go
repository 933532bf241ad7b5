package api

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// The profiles come as pprof's gzipped protobuf, or as text; a runtime
// profile that is not offered (block) is 404 like a made-up one.
func TestProfiles(t *testing.T) {
	_, ts := newTestServer(t, newFakeBox(), false)
	auth := "Bearer " + testToken
	resp, body := do(t, "GET", ts.URL+"/v1/debug/pprof/heap?gc=1", auth, "")
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix([]byte(body), []byte{0x1f, 0x8b}) {
		t.Errorf("heap = %d, %d bytes starting %q: want 200 and gzip", resp.StatusCode, len(body), body[:min(len(body), 8)])
	}
	resp, body = do(t, "GET", ts.URL+"/v1/debug/pprof/goroutine?debug=1", auth, "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "goroutine profile: total ") {
		t.Errorf("goroutine?debug=1 = %d %.80q", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", ts.URL+"/v1/debug/pprof/heap?debug=1", auth, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "# HeapInuse = ") {
		t.Errorf("heap?debug=1 = %d, no MemStats in %.80q", resp.StatusCode, body)
	}
	for _, name := range []string{"block", "nothing"} {
		if resp, body := do(t, "GET", ts.URL+"/v1/debug/pprof/"+name, auth, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s = %d, want 404\n%s", name, resp.StatusCode, body)
		}
	}
}
