package configsig

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/test/ci"
)

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey, []byte, []byte) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := MarshalPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	privPEM, err := MarshalPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv, pubPEM, privPEM
}

func TestKeyFilesRoundTrip(t *testing.T) {
	pub, priv, pubPEM, privPEM := newKey(t)
	gotPub, err := ParsePublicKey(pubPEM)
	if err != nil || !gotPub.Equal(pub) {
		t.Fatalf("ParsePublicKey = %x, %v", gotPub, err)
	}
	gotPriv, err := ParsePrivateKey(privPEM)
	if err != nil || !gotPriv.Equal(priv) {
		t.Fatalf("ParsePrivateKey: %v", err)
	}
	if !strings.HasPrefix(string(pubPEM), "-----BEGIN PUBLIC KEY-----\n") ||
		!strings.HasPrefix(string(privPEM), "-----BEGIN PRIVATE KEY-----\n") {
		t.Errorf("key files:\n%s%s", pubPEM, privPEM)
	}
	if fp := Fingerprint(pub); len(fp) != 16 || fp == Fingerprint(make(ed25519.PublicKey, 32)) {
		t.Errorf("Fingerprint = %q", fp)
	}
}

func TestParsePublicKeyRefuses(t *testing.T) {
	_, _, pubPEM, privPEM := newKey(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})
	for _, tc := range []struct {
		name string
		data []byte
		err  string
	}{
		{"private key", privPEM, "holds a private key"},
		{"public and private key in one file", append(append([]byte{}, pubPEM...), privPEM...), "holds a private key"},
		{"OpenSSH private key", []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), "holds a private key"},
		{"two public keys", append(append([]byte{}, pubPEM...), pubPEM...), "more than one"},
		{"ECDSA key", ecPEM, "want ed25519"},
		{"certificate", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), `"CERTIFICATE" block`},
		{"not PEM", []byte("ssh-ed25519 AAAAC3Nza me@host\n"), "not a PEM key file"},
		{"empty", nil, "not a PEM key file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParsePublicKey(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("ParsePublicKey = %x, %v; want an error saying %q", k, err, tc.err)
			}
			if strings.Contains(tc.err, "private") && !errors.Is(err, ErrPrivateKey) {
				t.Errorf("%v is not ErrPrivateKey", err)
			}
		})
	}
	if _, err := ParsePrivateKey(pubPEM); err == nil || !strings.Contains(err.Error(), "this is a public key") {
		t.Errorf("ParsePrivateKey(public key) = %v", err)
	}
}

func TestSignVerify(t *testing.T) {
	pub, priv, _, _ := newKey(t)
	other, _, _, _ := newKey(t)
	data := []byte("hostname: rack-1\n")
	sig := Sign(priv, data)
	if len(sig) != 89 || sig[88] != '\n' {
		t.Fatalf("Sign = %q, want 88 base64 characters and a newline", sig)
	}
	raw := ed25519.Sign(priv, data)
	for _, tc := range []struct {
		name      string
		key       ed25519.PublicKey
		data, sig []byte
		err       string
	}{
		{"valid", pub, data, sig, ""},
		{"valid without the newline", pub, data, bytes.TrimSpace(sig), ""},
		{"valid, raw bytes", pub, data, raw, ""},
		{"tampered config", pub, []byte("hostname: rack-2\n"), sig, ErrBadSignature.Error()},
		{"one more byte", pub, append(append([]byte{}, data...), '\n'), sig, ErrBadSignature.Error()},
		{"another key", other, data, sig, ErrBadSignature.Error()},
		{"truncated", pub, data, sig[:40], "not a signature"},
		{"empty", pub, data, nil, "not a signature"},
		{"an HTML error page", pub, data, []byte("<html>404</html>"), "not a signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.key, tc.data, tc.sig)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Verify = %v, want an error saying %q", err, tc.err)
			}
		})
	}
}

// TestOpenSSL: keys and signatures made with OpenSSL work here and the
// other way round, as the package documentation promises.
func TestOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		ci.Missing(t, "no openssl on PATH (apt-get install openssl)")
	}
	dir := t.TempDir()
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	data := []byte("hostname: rack-1\n")
	os.WriteFile(p("c.yaml"), data, 0o644)

	sh("genpkey", "-algorithm", "ed25519", "-out", p("o.key"))
	sh("pkey", "-in", p("o.key"), "-pubout", "-out", p("o.pub"))
	sh("pkeyutl", "-sign", "-rawin", "-inkey", p("o.key"), "-in", p("c.yaml"), "-out", p("c.yaml.sig"))
	pub, err := ReadPublicKey(p("o.pub"))
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := os.ReadFile(p("c.yaml.sig"))
	if err := Verify(pub, data, sig); err != nil {
		t.Errorf("OpenSSL's signature: %v", err)
	}
	priv, err := ReadPrivateKey(p("o.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(pub, data, Sign(priv, data)); err != nil {
		t.Errorf("signed with OpenSSL's key: %v", err)
	}

	_, priv, pubPEM, privPEM := newKey(t)
	os.WriteFile(p("n.key"), privPEM, 0o600)
	os.WriteFile(p("n.pub"), pubPEM, 0o644)
	os.WriteFile(p("n.sig"), ed25519.Sign(priv, data), 0o644)
	sh("pkeyutl", "-verify", "-rawin", "-pubin", "-inkey", p("n.pub"), "-in", p("c.yaml"), "-sigfile", p("n.sig"))
	sh("pkey", "-in", p("n.key"), "-noout")
}

func TestSignatureURL(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"http://10.0.2.2:8000/configs/52:54:00:00:00:01.yaml", "http://10.0.2.2:8000/configs/52:54:00:00:00:01.yaml.sig", ""},
		{"https://cfg/box?mac=52:54:00:00:00:01", "https://cfg/box.sig?mac=52:54:00:00:00:01", ""},
		{"https://cfg/rack%201.yaml", "https://cfg/rack%201.yaml.sig", ""},
		{"https://cfg/a%2Fb.yaml", "https://cfg/a%2Fb.yaml.sig", ""},
		{"https://cfg", "", "names no file"},
		{"https://cfg/configs/", "", "names no file"},
	} {
		got, err := SignatureURL(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: err = %v, want %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%q = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
