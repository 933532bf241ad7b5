package boot

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/internal/configsig"
)

func testKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// TestConfigSignature: with a config key in the image, a config from a
// URL is used only with a valid signature from URL.sig; a missing or
// wrong signature is refused at once, naming the URL and the remedy.
// Without a key, plain http still needs the pin.
func TestConfigSignature(t *testing.T) {
	key, priv := testKey(t)
	other, otherPriv := testKey(t)
	good := []byte("hostname: rack-1\n")
	evil := []byte("hostname: evil\n")
	notFound := &httpStatusError{code: 404, status: "404 Not Found"}
	for _, tc := range []struct {
		name     string
		spec     string
		pin      string
		key      ed25519.PublicKey
		config   []byte
		sig      []byte // nil: the server has none
		sigErrs  int    // failures to fetch the signature before it comes
		parseErr string // cmdlineSource refuses the command line
		err      string // Fetch refuses the config
		gets     int    // requests Fetch makes, config and signature
	}{
		{name: "https, valid", spec: "https://cfg/c.yaml", key: key, config: good, sig: configsig.Sign(priv, good), gets: 2},
		{name: "http with key, valid", spec: "http://10.0.2.2/c.yaml", key: key, config: good, sig: configsig.Sign(priv, good), gets: 2},
		{name: "raw signature bytes", spec: "http://10.0.2.2/c.yaml", key: key, config: good, sig: ed25519.Sign(priv, good), gets: 2},
		{name: "missing .sig", spec: "http://10.0.2.2/c.yaml", key: key, config: good,
			err: "no signature at http://10.0.2.2/c.yaml.sig (HTTP 404 Not Found): this image takes configs from a URL only when they are signed with its config key " + configsig.Fingerprint(key), gets: 2},
		{name: "wrong key", spec: "https://cfg/c.yaml", key: key, config: good, sig: configsig.Sign(otherPriv, good),
			err: "https://cfg/c.yaml: the signature https://cfg/c.yaml.sig does not match", gets: 2},
		{name: "tampered bytes", spec: "http://10.0.2.2/c.yaml", key: key, config: evil, sig: configsig.Sign(priv, good),
			err: "does not match: the config was changed after it was signed", gets: 2},
		{name: "signed, served with another key in the image", spec: "https://cfg/c.yaml", key: other, config: good, sig: configsig.Sign(priv, good),
			err: "another key than the image's " + configsig.Fingerprint(other), gets: 2},
		{name: "not a signature", spec: "http://10.0.2.2/c.yaml", key: key, config: good, sig: []byte("<html>oops</html>"),
			err: "http://10.0.2.2/c.yaml.sig: not a signature", gets: 2},
		{name: "signature fetch fails once, then works", spec: "http://10.0.2.2/c.yaml", key: key, config: good, sig: configsig.Sign(priv, good), sigErrs: 1, gets: 4},
		{name: "http with key and pin, both good", spec: "http://10.0.2.2/c.yaml", pin: sum(good), key: key, config: good, sig: configsig.Sign(priv, good), gets: 2},
		{name: "http with key and pin, pin mismatch", spec: "http://10.0.2.2/c.yaml", pin: sum(evil), key: key, config: good, sig: configsig.Sign(priv, good),
			err: "but nucbox.config.sha256=", gets: 1},
		{name: "https without key: no signature asked for", spec: "https://cfg/c.yaml", config: good, gets: 1},
		{name: "http without key, pinned", spec: "http://10.0.2.2/c.yaml", pin: sum(good), config: good, gets: 1},
		{name: "http without key and without pin", spec: "http://10.0.2.2/c.yaml",
			parseErr: "plain http can be read and changed by anyone on the network: add nucbox.config.sha256=<the config's SHA-256, from sha256sum> to the kernel command line, build the image with --config-key"},
		{name: "key, URL names no file", spec: "https://cfg/configs/", key: key, parseErr: "the URL names no file"},
		{name: "key, file source: no signature asked for", spec: "/etc/nucbox/none.yaml", key: key},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := "nucbox.config=" + tc.spec
			if tc.pin != "" {
				cl += " nucbox.config.sha256=" + tc.pin
			}
			src, err := cmdlineSourceWithKey(ParseCmdline(cl), tc.spec, tc.key)
			if tc.parseErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.parseErr) {
					t.Fatalf("cmdlineSource = %v, %v; want an error saying %q", src, err, tc.parseErr)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u, ok := src.(*urlSource)
			if !ok {
				if _, isFile := src.(fileSource); !isFile {
					t.Errorf("source %T", src)
				}
				return
			}
			var urls []string
			sigErrs := tc.sigErrs
			closed := false
			u.timeout = 10 * time.Second
			u.lease = func(context.Context, string) (bootLease, error) { return fakeLease{closed: &closed}, nil }
			u.get = func(_ context.Context, url string) ([]byte, error) {
				urls = append(urls, url)
				if !strings.HasSuffix(url, ".sig") {
					return tc.config, nil
				}
				if sigErrs > 0 {
					sigErrs--
					return nil, errors.New("connection reset by peer")
				}
				if tc.sig == nil {
					return nil, notFound
				}
				return tc.sig, nil
			}
			_, data, err := u.Fetch(context.Background())
			if len(urls) != tc.gets {
				t.Errorf("fetched %q, want %d requests (a refusal is not retried)", urls, tc.gets)
			}
			if tc.err == "" {
				if err != nil || string(data) != string(tc.config) {
					t.Fatalf("Fetch = %q, %v", data, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || data != nil {
				t.Fatalf("Fetch = %q, %v; want an error saying %q", data, err, tc.err)
			}
			if !strings.Contains(err.Error(), "nucbox config sign") && !strings.Contains(tc.err, "sha256") {
				t.Errorf("%v: does not say how to sign", err)
			}
			t.Logf("error: %v", err)
		})
	}
}

// TestConfigSignatureOverHTTP fetches a signed config from a real server,
// over plain http: the signature is asked for beside the config, with the
// query kept, and a server without signatures gets a refusal at once.
func TestConfigSignatureOverHTTP(t *testing.T) {
	key, priv := testKey(t)
	cfg := []byte("hostname: rack-1\n")
	var paths []string
	withSig := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.RequestURI())
		switch r.URL.Path {
		case "/configs/52:54:00:00:00:01.yaml":
			w.Write(cfg)
		case "/configs/52:54:00:00:00:01.yaml.sig":
			if withSig {
				w.Write(configsig.Sign(priv, cfg))
				return
			}
			fallthrough
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	spec := srv.URL + "/configs/${mac}.yaml?v=1"
	src, err := cmdlineSourceWithKey(ParseCmdline("nucbox.config="+spec), spec, key)
	if err != nil {
		t.Fatal(err)
	}
	u := src.(*urlSource)
	closed := false
	u.timeout = 10 * time.Second
	u.lease = func(context.Context, string) (bootLease, error) {
		return fakeLease{vars: map[string]string{"mac": "52:54:00:00:00:01"}, closed: &closed}, nil
	}
	if _, data, err := u.Fetch(context.Background()); err != nil || string(data) != string(cfg) {
		t.Fatalf("Fetch = %q, %v", data, err)
	}
	if want := "/configs/52:54:00:00:00:01.yaml?v=1 /configs/52:54:00:00:00:01.yaml.sig?v=1"; strings.Join(paths, " ") != want {
		t.Errorf("requests %q, want %q", paths, want)
	}

	paths, withSig = nil, false
	_, _, err = u.Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no signature at "+srv.URL+"/configs/52:54:00:00:00:01.yaml.sig?v=1 (HTTP 404 Not Found)") {
		t.Fatalf("Fetch without a signature: %v", err)
	}
	if len(paths) != 2 {
		t.Errorf("requests %q: a missing signature was retried", paths)
	}
}

// TestReadConfigKey: no key file is no key; a key file that is not a
// public key stops the boot's URL source rather than being ignored.
func TestReadConfigKey(t *testing.T) {
	pub, priv := testKey(t)
	dir := t.TempDir()
	pubPEM, _ := configsig.MarshalPublicKey(pub)
	privPEM, _ := configsig.MarshalPrivateKey(priv)
	os.WriteFile(filepath.Join(dir, "good.pub"), pubPEM, 0o644)
	os.WriteFile(filepath.Join(dir, "private.pub"), privPEM, 0o644)
	os.WriteFile(filepath.Join(dir, "junk.pub"), []byte("junk"), 0o644)
	if k, err := readConfigKey(filepath.Join(dir, "none.pub")); k != nil || err != nil {
		t.Errorf("no key file: %x, %v", k, err)
	}
	if k, err := readConfigKey(filepath.Join(dir, "good.pub")); err != nil || !k.Equal(pub) {
		t.Errorf("key file: %x, %v", k, err)
	}
	for _, f := range []string{"private.pub", "junk.pub"} {
		if k, err := readConfigKey(filepath.Join(dir, f)); k != nil || err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("%s: %x, %v; want an error naming the file", f, k, err)
		}
	}
}
