package slot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/image/authenticode"
	"github.com/nucbox/nucbox/image/secureboot"
	"github.com/nucbox/nucbox/image/uki"
	"github.com/nucbox/nucbox/test/ci"
)

const debianStub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"

// TestUpgradeSecureBoot: a box that booted with Secure Boot on takes an
// image signed by a key in its db and refuses an unsigned one and one
// signed by another key, each with a message saying why.
func TestUpgradeSecureBoot(t *testing.T) {
	stub, err := os.ReadFile(debianStub)
	if err != nil {
		ci.Missing(t, "%v (Debian package systemd-boot-efi, make deps installs it)", err)
	}
	img, err := uki.Build(stub, uki.Sections{
		OSRel:  uki.NewOSRelease("v2", 2).Bytes(),
		Initrd: []byte("initrd"),
		Linux:  []byte("kernel"),
	})
	if err != nil {
		t.Fatal(err)
	}
	keys, other := t.TempDir(), t.TempDir()
	for _, d := range []string{keys, other} {
		if err := secureboot.Generate(d, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	sign := func(dir string) []byte {
		k, c, err := secureboot.LoadSigner(secureboot.KeyFile(dir, "db"), secureboot.CertFile(dir, "db"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := authenticode.Sign(img, k, c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good, foreign := sign(keys), sign(other)

	// The box's efivarfs: SecureBoot=1 and db as enrolled from db.auth.
	vars := t.TempDir()
	auth, _ := os.ReadFile(secureboot.AuthFile(keys, "db"))
	a, err := secureboot.ParseAuth(auth)
	if err != nil {
		t.Fatal(err)
	}
	put := func(name string, g secureboot.GUID, b []byte) {
		os.WriteFile(filepath.Join(vars, name+"-"+g.String()), append([]byte{0x27, 0, 0, 0}, b...), 0o644)
	}
	put("db", secureboot.ImageSecurityDatabase, a.Data)
	put("SecureBoot", secureboot.GlobalVariable, []byte{1})
	fw := secureboot.Firmware{Dir: vars}

	s := &Slot{Name: "a", UEFI: true, SecureBoot: fw.SecureBoot(), opts: Options{Firmware: fw}}
	if s.SecureBootState() != "on" {
		t.Fatalf("Secure Boot %q", s.SecureBootState())
	}
	for _, c := range []struct {
		name  string
		image []byte
		want  string
	}{
		{"unsigned", img, "the image is not signed"},
		{"signed by another key", foreign, `db holds "` + dbName(t, keys) + `"`},
	} {
		_, err := s.Upgrade(c.image, 1)
		if !errors.Is(err, ErrNotTrusted) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %v saying %q", c.name, err, ErrNotTrusted, c.want)
		}
	}
	// Positive control: the signed image passes the check and goes on
	// to the ESP, which this test has none of.
	if _, err := s.Upgrade(good, 1); err == nil || errors.Is(err, ErrNotTrusted) || errors.Is(err, ErrBadImage) {
		t.Errorf("signed by db: %v, want only the missing ESP", err)
	}
	// With Secure Boot off nothing is checked.
	off := &Slot{Name: "a", UEFI: true}
	if _, err := off.Upgrade(img, 1); errors.Is(err, ErrNotTrusted) {
		t.Errorf("Secure Boot off: %v", err)
	}
	if off.SecureBootState() != "off" || (&Slot{}).SecureBootState() != "" {
		t.Error("SecureBootState")
	}
}

func dbName(t *testing.T, dir string) string {
	c, err := secureboot.LoadCert(secureboot.CertFile(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	return c.Subject.CommonName
}
