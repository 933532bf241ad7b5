package secureboot

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGUID(t *testing.T) {
	const s = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
	g := MustGUID(s)
	if g.String() != s || g[0] != 0x61 || g[3] != 0x8b || g[8] != 0xaa {
		t.Fatalf("GUID %s: % x", g, g[:])
	}
	// The names efivarfs gives the variables, as the kernel spells them.
	if got := "SecureBoot-" + GlobalVariable.String(); got != "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c" {
		t.Errorf("efivarfs name %s", got)
	}
	if got := "db-" + ImageSecurityDatabase.String(); got != "db-d719b2cb-3d3a-4596-a3bc-dad00e67656f" {
		t.Errorf("efivarfs name %s", got)
	}
	if _, err := ParseGUID("8be4df61-93ca-11d2-aa0d"); err == nil {
		t.Fatal("short GUID parsed")
	}
}

func TestKeySet(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	if err := Generate(dir, now); err != nil {
		t.Fatal(err)
	}
	if err := Generate(dir, now); err == nil || !strings.Contains(err.Error(), "not overwriting") {
		t.Fatalf("second Generate into the same directory: %v", err)
	}
	certs := map[string]*x509.Certificate{}
	for _, n := range KeyNames {
		_, c, err := LoadSigner(KeyFile(dir, n), CertFile(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		certs[n] = c
		if fi, _ := os.Stat(KeyFile(dir, n)); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", KeyFile(dir, n), fi.Mode())
		}
	}
	if _, _, err := LoadSigner(KeyFile(dir, "db"), CertFile(dir, "KEK")); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("db key with the KEK cert: %v", err)
	}
	// Each .auth is signed by the key above it: PK by itself, KEK by PK,
	// db by KEK; and writes a signature list holding its own cert.
	signer := map[string]string{"PK": "PK", "KEK": "PK", "db": "KEK"}
	for _, n := range KeyNames {
		b, err := os.ReadFile(AuthFile(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		a, err := ParseAuth(b)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Time.Equal(now) {
			t.Errorf("%s.auth time %v", n, a.Time)
		}
		data, err := VerifyAuth(n, b, []*x509.Certificate{certs[signer[n]]})
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseSignatureLists(data)
		if err != nil || len(got) != 1 || !got[0].Equal(certs[n]) {
			t.Fatalf("%s.auth writes %d certs (%v), want its own", n, len(got), err)
		}
		wrong := "db"
		if signer[n] == "db" {
			wrong = "PK"
		}
		if _, err := VerifyAuth(n, b, []*x509.Certificate{certs[wrong]}); err == nil {
			t.Errorf("%s.auth verified against %s", n, wrong)
		}
		// The signature covers the variable's name: the same file is
		// not a valid write of another variable.
		if _, err := VerifyAuth(n+"x", b, []*x509.Certificate{certs[signer[n]]}); err == nil {
			t.Errorf("%s.auth verified as another variable", n)
		}
	}
}

func TestFirmware(t *testing.T) {
	dir := t.TempDir()
	fw := Firmware{Dir: dir}
	if fw.SecureBoot() {
		t.Fatal("Secure Boot on without the variable")
	}
	write := func(name string, guid GUID, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name+"-"+guid.String()), append([]byte{6, 0, 0, 0}, b...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("SecureBoot", GlobalVariable, []byte{0})
	if fw.SecureBoot() {
		t.Fatal("SecureBoot=0 read as on")
	}
	write("SecureBoot", GlobalVariable, []byte{1})
	if !fw.SecureBoot() {
		t.Fatal("SecureBoot=1 read as off")
	}
	keys := t.TempDir()
	if err := Generate(keys, time.Now()); err != nil {
		t.Fatal(err)
	}
	db, _ := LoadCert(CertFile(keys, "db"))
	kek, _ := LoadCert(CertFile(keys, "KEK"))
	var owner GUID
	// A hash list (EFI_CERT_SHA256) before the certificates is skipped.
	hashList := make([]byte, 28+48)
	copy(hashList, MustGUID("c1c41626-504c-4092-aca9-41f936934328").Bytes())
	hashList[16], hashList[24] = 28+48, 48
	write("db", ImageSecurityDatabase, append(hashList, SignatureList(owner, db, kek)...))
	got, err := fw.DB()
	if err != nil || len(got) != 2 || !got[0].Equal(db) || !got[1].Equal(kek) {
		t.Fatalf("db: %d certs, %v", len(got), err)
	}
	write("db", ImageSecurityDatabase, SignatureList(owner, db)[:40])
	if _, err := fw.DB(); err == nil {
		t.Fatal("truncated db parsed")
	}
}
