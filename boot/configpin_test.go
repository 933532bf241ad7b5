package boot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestConfigPin: nucbox.config.sha256= accepts the config it names and
// refuses any other, from a URL (at once, without retrying) or a file.
func TestConfigPin(t *testing.T) {
	good := []byte("hostname: rack-1\n")
	dir := t.TempDir()
	file := filepath.Join(dir, "box.yaml")
	os.WriteFile(file, good, 0o600)
	for _, tc := range []struct {
		name, spec, pin string
		served          []byte
		err             string
	}{
		{"http, pinned, matches", "http://10.0.2.2/c.yaml", sum(good), good, ""},
		{"http, pinned, upper-case pin", "http://10.0.2.2/c.yaml", strings.ToUpper(sum(good)), good, ""},
		{"http, pinned, changed on the way", "http://10.0.2.2/c.yaml", sum(good), []byte("hostname: evil\n"), "but nucbox.config.sha256=" + sum(good)},
		{"https, pinned, changed", "https://cfg/c.yaml", sum(good), []byte("hostname: evil\n"), "SHA-256 is " + sum([]byte("hostname: evil\n"))},
		{"https, unpinned", "https://cfg/c.yaml", "", []byte("hostname: any\n"), ""},
		{"file, pinned, matches", file, sum(good), nil, ""},
		{"file, pinned, other", file, sum([]byte("other")), nil, "not using it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := "nucbox.config=" + tc.spec
			if tc.pin != "" {
				cl += " nucbox.config.sha256=" + tc.pin
			}
			src, err := cmdlineSource(ParseCmdline(cl), tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			gets := 0
			if u, ok := src.(*urlSource); ok {
				closed := false
				u.timeout = 5 * time.Second
				u.lease = func(context.Context, string) (bootLease, error) { return fakeLease{closed: &closed}, nil }
				u.get = func(context.Context, string) ([]byte, error) { gets++; return tc.served, nil }
			}
			_, data, err := src.Fetch(context.Background())
			if tc.err == "" {
				if err != nil || data == nil {
					t.Fatalf("Fetch = %q, %v", data, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || data != nil {
				t.Fatalf("Fetch = %q, %v; want an error saying %q", data, err, tc.err)
			}
			if gets > 1 {
				t.Errorf("a pin mismatch was retried %d times", gets)
			}
			t.Logf("error: %v", err)
		})
	}
}

// TestNoRedirectToHTTP: an https config URL that redirects to http is
// refused; redirects that stay on https, or start on http, are followed.
func TestNoRedirectToHTTP(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/to-https" {
			http.Redirect(w, r, r.URL.Query().Get("u"), http.StatusFound)
			return
		}
		w.Write([]byte("hostname: plain\n"))
	}))
	defer plain.Close()
	var secure *httptest.Server
	secure = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-http":
			http.Redirect(w, r, plain.URL+"/c.yaml", http.StatusFound)
		case "/to-https":
			http.Redirect(w, r, secure.URL+"/c.yaml", http.StatusMovedPermanently)
		default:
			w.Write([]byte("hostname: secure\n"))
		}
	}))
	defer secure.Close()
	saved := configClient
	defer func() { configClient = saved }()
	configClient = &http.Client{Transport: secure.Client().Transport, CheckRedirect: noDowngrade}

	for _, tc := range []struct{ name, url, want, err string }{
		{"https to http", secure.URL + "/to-http", "", "it leaves https"},
		{"https to https", secure.URL + "/to-https", "hostname: secure\n", ""},
		{"http to https", plain.URL + "/to-https?u=" + secure.URL + "/c.yaml", "hostname: secure\n", ""},
		{"https", secure.URL + "/c.yaml", "hostname: secure\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := httpGet(context.Background(), tc.url)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("httpGet = %q, %v; want an error saying %q", b, err, tc.err)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil || string(b) != tc.want {
				t.Fatalf("httpGet = %q, %v; want %q", b, err, tc.want)
			}
		})
	}
}
