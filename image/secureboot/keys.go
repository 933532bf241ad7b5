package secureboot

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// KeyNames are the key set's names, in the order firmware enrols them.
var KeyNames = []string{"db", "KEK", "PK"}

var commonNames = map[string]string{
	"PK":  "nucbox platform key",
	"KEK": "nucbox key exchange key",
	"db":  "nucbox image signing key",
}

// Files of a key set in its directory: NAME.key, NAME.crt, NAME.auth.
func KeyFile(dir, name string) string  { return filepath.Join(dir, name+".key") }
func CertFile(dir, name string) string { return filepath.Join(dir, name+".crt") }
func AuthFile(dir, name string) string { return filepath.Join(dir, name+".auth") }

// Generate writes a new PK/KEK/db set into dir: RSA-2048 keys (the size
// every firmware takes), self-signed certificates valid for 30 years,
// and the .auth files that enrol them. It refuses to touch a directory
// that already holds any of these files: keys are not to be replaced by
// accident.
func Generate(dir string, now time.Time) error {
	for _, n := range KeyNames {
		for _, f := range []string{KeyFile(dir, n), CertFile(dir, n), AuthFile(dir, n)} {
			if _, err := os.Lstat(f); err == nil {
				return fmt.Errorf("%s exists: not overwriting a key set (use an empty directory)", f)
			}
		}
	}
	var owner GUID
	if _, err := rand.Read(owner[:]); err != nil {
		return err
	}
	owner[7] = owner[7]&0x0f | 0x40 // version 4
	owner[8] = owner[8]&0x3f | 0x80
	keys := map[string]crypto.Signer{}
	certs := map[string]*x509.Certificate{}
	files := map[string][]byte{}
	for _, n := range KeyNames {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return err
		}
		// The owner GUID's first field tells key sets apart in messages
		// ("signed by nucbox image signing key 1a2b3c4d, db holds ...").
		c, err := selfSigned(k, commonNames[n]+" "+owner.String()[:8], now)
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return err
		}
		keys[n], certs[n] = k, c
		files[KeyFile(dir, n)] = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		files[CertFile(dir, n)] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	signer := map[string]string{"PK": "PK", "KEK": "PK", "db": "KEK"}
	for _, n := range KeyNames {
		s := signer[n]
		auth, err := SignVariable(n, now, SignatureList(owner, certs[n]), keys[s], certs[s])
		if err != nil {
			return err
		}
		files[AuthFile(dir, n)] = auth
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name, b := range files {
		mode := os.FileMode(0o644)
		if filepath.Ext(name) == ".key" {
			mode = 0o600
		}
		if err := os.WriteFile(name, b, mode); err != nil {
			return err
		}
	}
	return nil
}

func selfSigned(k crypto.Signer, cn string, now time.Time) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.AddDate(30, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// LoadSigner reads a PEM private key (PKCS#8, PKCS#1 or SEC 1) and a PEM
// or DER certificate, and checks that they belong together.
func LoadSigner(keyFile, certFile string) (crypto.Signer, *x509.Certificate, error) {
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("signing key: %w", err)
	}
	key, err := parseKey(kb)
	if err != nil {
		return nil, nil, fmt.Errorf("signing key %s: %w", keyFile, err)
	}
	cert, err := LoadCert(certFile)
	if err != nil {
		return nil, nil, err
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
		return nil, nil, fmt.Errorf("signing key %s does not match certificate %s (%q)", keyFile, certFile, cert.Subject.CommonName)
	}
	return key, cert, nil
}

// LoadCert reads a PEM or DER certificate.
func LoadCert(file string) (*x509.Certificate, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if p, _ := pem.Decode(b); p != nil {
		b = p.Bytes
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", file, err)
	}
	return c, nil
}

func parseKey(b []byte) (crypto.Signer, error) {
	p, _ := pem.Decode(b)
	if p == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(p.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			switch s.(type) {
			case *rsa.PrivateKey, *ecdsa.PrivateKey:
				return s, nil
			}
		}
		return nil, fmt.Errorf("unsupported key type %T (want RSA or ECDSA)", k)
	}
	if k, err := x509.ParsePKCS1PrivateKey(p.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(p.Bytes); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("%s block is not a private key this signs with", p.Type)
}
