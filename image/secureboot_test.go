package image

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/image/authenticode"
	"github.com/nucbox/nucbox/image/disk"
	"github.com/nucbox/nucbox/image/esp"
	"github.com/nucbox/nucbox/image/secureboot"
	"github.com/nucbox/nucbox/image/uki"
)

func TestBuildSigned(t *testing.T) {
	requireSystemdBoot(t)
	keys := t.TempDir()
	if err := secureboot.Generate(keys, time.Now()); err != nil {
		t.Fatal(err)
	}
	db, _ := secureboot.LoadCert(secureboot.CertFile(keys, "db"))
	kek, _ := secureboot.LoadCert(secureboot.CertFile(keys, "KEK"))
	ucode := filepath.Join(t.TempDir(), "ucode.cpio")
	os.WriteFile(ucode, []byte("070701 not really a cpio, but it starts like one"), 0o644)

	o := fixtureOptions(t)
	o.UKI = true
	o.DiskSize = 300 << 20
	o.ESPSize = 64 << 20
	o.Version = "v1.0.0"
	o.SignKey, o.SignCert = secureboot.KeyFile(keys, "db"), secureboot.CertFile(keys, "db")
	o.EnrollKeys = keys
	o.Microcode = ucode
	if _, err := Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	efi, err := os.ReadFile(filepath.Join(o.OutDir, UKIName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := authenticode.Verify(efi, []*x509.Certificate{db}); err != nil {
		t.Fatalf("the UKI does not verify against db: %v", err)
	}
	var untrusted *authenticode.UntrustedError
	if _, err := authenticode.Verify(efi, []*x509.Certificate{kek}); !errors.As(err, &untrusted) {
		t.Fatalf("the UKI against another cert: %v", err)
	}
	sbat, err := uki.ReadSection(bytes.NewReader(efi), uki.SBAT)
	if err != nil || !strings.Contains(string(sbat), "\nnucbox,1,nucbox,nucbox,v1.0.0,") || !strings.HasPrefix(string(sbat), "sbat,1,") {
		t.Errorf(".sbat %q (%v)", sbat, err)
	}
	want, _ := os.ReadFile(ucode)
	if got, err := uki.ReadSection(bytes.NewReader(efi), uki.Ucode); err != nil || !bytes.Equal(got, want) {
		t.Errorf(".ucode %q (%v)", got, err)
	}

	img := filepath.Join(o.OutDir, DiskName)
	loader, err := disk.ReadFile(img, esp.BootLoader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := authenticode.Verify(loader, []*x509.Certificate{db}); err != nil {
		t.Errorf("the boot loader does not verify against db: %v", err)
	}
	conf, _ := disk.ReadFile(img, esp.LoaderConf)
	if !strings.Contains(string(conf), "\nsecure-boot-enroll force\n") {
		t.Errorf("loader.conf does not enrol:\n%s", conf)
	}
	for _, n := range secureboot.KeyNames {
		want, _ := os.ReadFile(secureboot.AuthFile(keys, n))
		got, err := disk.ReadFile(img, path.Join(esp.KeysDir, n+".auth"))
		// go-diskfs reads small files up to the end of their last 2 KiB
		// block; the directory entry has the right size.
		if err != nil || !bytes.HasPrefix(got, want) || len(got)-len(want) >= 2048 {
			t.Errorf("%s.auth on the ESP: %v, or differs (%d bytes, want %d)", n, err, len(got), len(want))
		}
	}
}

// TestBuildSigningErrors: bad signing input fails before anything is
// written, with a message naming what is wrong.
func TestBuildSigningErrors(t *testing.T) {
	requireSystemdBoot(t)
	keys, other := t.TempDir(), t.TempDir()
	for _, d := range []string{keys, other} {
		if err := secureboot.Generate(d, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		set  func(o *Options)
		want string
	}{
		{"key of another cert", func(o *Options) {
			o.SignKey, o.SignCert = secureboot.KeyFile(keys, "db"), secureboot.CertFile(keys, "KEK")
		}, "does not match certificate"},
		{"key without cert", func(o *Options) { o.SignKey = secureboot.KeyFile(keys, "db") }, "--sign-cert"},
		{"keys whose db is not the signer", func(o *Options) {
			o.SignKey, o.SignCert = secureboot.KeyFile(other, "db"), secureboot.CertFile(other, "db")
			o.EnrollKeys = keys
		}, "would not boot once these keys are enrolled"},
		{"keys without signing", func(o *Options) { o.EnrollKeys = keys }, "without signing"},
		{"keys without disk", func(o *Options) {
			o.DiskSize = 0
			o.SignKey, o.SignCert = secureboot.KeyFile(keys, "db"), secureboot.CertFile(keys, "db")
			o.EnrollKeys = keys
		}, "--disk"},
		{"microcode not a cpio", func(o *Options) { o.Microcode = secureboot.CertFile(keys, "db") }, "not an uncompressed cpio"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := fixtureOptions(t)
			o.UKI = true
			o.DiskSize = 300 << 20
			c.set(&o)
			_, err := Build(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			des, _ := os.ReadDir(o.OutDir)
			for _, de := range des {
				t.Errorf("failed build left %s behind", de.Name())
			}
		})
	}
}
