package boot

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestConfigCertPin: nucbox.config.cert-sha256= takes a config from the
// https server whose certificate it names, signed by nobody, and from no
// other; it pins https only. A server that answers 404 (a rack box with
// no config for this MAC) ends the fetch at once, without retries, so
// that the machine goes into maintenance mode promptly.
func TestConfigCertPin(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/configs/52:54:00:aa:bb:cc.yaml" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("hostname: rack-1\n"))
	}))
	defer srv.Close()
	good := sum(srv.Certificate().Raw)
	fetch := func(url, pin string) ([]byte, error) {
		t.Helper()
		src, err := cmdlineSource(ParseCmdline("nucbox.config="+url+" nucbox.config.cert-sha256="+pin), url)
		if err != nil {
			return nil, err
		}
		u := src.(*urlSource)
		u.timeout = 2 * time.Second
		closed := false
		u.lease = func(context.Context, string) (bootLease, error) {
			return fakeLease{vars: map[string]string{"mac": "52:54:00:aa:bb:cc"}, closed: &closed}, nil
		}
		_, data, err := u.Fetch(context.Background())
		return data, err
	}
	if data, err := fetch(srv.URL+"/configs/${mac}.yaml", good); err != nil || string(data) != "hostname: rack-1\n" {
		t.Errorf("the pinned server: %q, %v", data, err)
	}
	if data, err := fetch(srv.URL+"/configs/${mac}.yaml", strings.ToUpper(good)); err != nil || data == nil {
		t.Errorf("the pin in upper case: %q, %v", data, err)
	}
	other := sum([]byte("another certificate"))
	if data, err := fetch(srv.URL+"/configs/${mac}.yaml", other); err == nil || !strings.Contains(err.Error(), "certificate has SHA-256 "+good) {
		t.Errorf("another server's pin: %q, %v", data, err)
	}
	if _, err := fetch("http://10.0.2.2/configs/${mac}.yaml", good); err == nil || !strings.Contains(err.Error(), "is not https") {
		t.Errorf("a pin on plain http: %v", err)
	}
	if _, err := fetch(srv.URL+"/c.yaml", "abc"); err == nil || !strings.Contains(err.Error(), "64 hex digits") {
		t.Errorf("a short pin: %v", err)
	}

	hits.Store(0)
	start := time.Now()
	_, err := fetch(srv.URL+"/configs/none-${mac}.yaml", good)
	if err == nil || !strings.Contains(err.Error(), "no config for this machine") || hits.Load() != 1 {
		t.Errorf("404: %v after %d requests; want one request and no retries", err, hits.Load())
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("404 took %s", el)
	}
}
