package authenticode

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/ci"
)

const systemdBoot = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi"

func testCert(t testing.TB, cn string, ec bool) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	var key crypto.Signer
	var err error
	if ec {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func loader(t *testing.T) []byte {
	b, err := os.ReadFile(systemdBoot)
	if err != nil {
		ci.Missing(t, "%v (Debian package systemd-boot-efi, make deps installs it)", err)
	}
	return b
}

func TestSignVerify(t *testing.T) {
	img := loader(t)
	for _, ec := range []bool{false, true} {
		key, cert := testCert(t, "db", ec)
		_, other := testCert(t, "someone else", ec)
		signed, err := Sign(img, key, cert)
		if err != nil {
			t.Fatal(err)
		}
		if Signed(img) || !Signed(signed) {
			t.Fatalf("Signed: unsigned image %v, signed image %v", Signed(img), Signed(signed))
		}
		// Signing pads the image to 8 bytes and adds the table: the hash
		// is that of the padded image.
		h1, _ := Hash(append(append([]byte(nil), img...), make([]byte, (8-len(img)%8)%8)...))
		h2, _ := Hash(signed)
		if string(h1) != string(h2) {
			t.Fatal("signing changed the Authenticode hash")
		}
		if got, err := Verify(signed, []*x509.Certificate{other, cert}); err != nil || !got.Equal(cert) {
			t.Fatalf("verify against the signing cert: %v", err)
		}
		var untrusted *UntrustedError
		if _, err := Verify(signed, []*x509.Certificate{other}); !errors.As(err, &untrusted) {
			t.Fatalf("verify against another cert: %v, want UntrustedError", err)
		}
		if _, err := Verify(img, []*x509.Certificate{cert}); !errors.Is(err, ErrUnsigned) {
			t.Fatalf("verify unsigned: %v", err)
		}
		tampered := append([]byte(nil), signed...)
		tampered[0x1000] ^= 1
		if _, err := Verify(tampered, []*x509.Certificate{cert}); err == nil || !strings.Contains(err.Error(), "changed after") {
			t.Fatalf("verify tampered image: %v", err)
		}
		plain, err := Unsign(signed)
		if err != nil || Signed(plain) {
			t.Fatalf("Unsign: %v", err)
		}
		if h3, _ := Hash(plain); string(h3) != string(h1) {
			t.Fatal("Unsign changed the hash")
		}
		if _, err := Verify(plain, []*x509.Certificate{cert}); !errors.Is(err, ErrUnsigned) {
			t.Fatalf("verify unsigned-again image: %v", err)
		}
		if _, err := Sign(signed, key, cert); err == nil {
			t.Fatal("signing a signed image worked")
		}
		if _, err := Sign(img, key, other); err == nil || !strings.Contains(err.Error(), "does not match") {
			t.Fatalf("signing with a key that is not the cert's: %v", err)
		}
	}
}

// TestOsslsigncode has an independent implementation check the
// signature, so that the two sides here cannot agree on a mistake.
func TestOsslsigncode(t *testing.T) {
	img := loader(t)
	tool, err := exec.LookPath("osslsigncode")
	if err != nil {
		ci.Missing(t, "osslsigncode (Debian package osslsigncode, make deps installs it)")
	}
	key, cert := testCert(t, "db", false)
	_, other := testCert(t, "other", false)
	signed, err := Sign(img, key, cert)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	efi := write("signed.efi", signed)
	good := write("good.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	bad := write("bad.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.Raw}))
	run := func(ca string) (string, error) {
		out, err := exec.Command(tool, "verify", "-in", efi, "-CAfile", ca).CombinedOutput()
		return string(out), err
	}
	if out, err := run(good); err != nil || !strings.Contains(out, "Signature verification: ok") {
		t.Fatalf("osslsigncode verify with the signing cert: %v\n%s", err, out)
	}
	if out, err := run(bad); err == nil {
		t.Fatalf("osslsigncode accepted the signature against another cert:\n%s", out)
	}
}

func TestDetached(t *testing.T) {
	key, cert := testCert(t, "PK", false)
	_, other := testCert(t, "other", false)
	data := []byte("variable name, GUID, attributes, time and data")
	sd, err := SignDetached(key, cert, data)
	if err != nil {
		t.Fatal(err)
	}
	// UEFI finds the digest algorithm at a fixed offset (13) behind a
	// two-byte length.
	if sd[1] != 0x82 || string(sd[13:13+9]) != string(oid(oidSHA256)[2:]) {
		t.Fatalf("SignedData layout firmware does not parse: % x", sd[:24])
	}
	if _, err := VerifyDetached(sd, data, []*x509.Certificate{cert}); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyDetached(sd, append(data, 'x'), []*x509.Certificate{cert}); err == nil {
		t.Fatal("verified over other data")
	}
	if _, err := VerifyDetached(sd, data, []*x509.Certificate{other}); err == nil {
		t.Fatal("verified against another cert")
	}
}
