package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/image"
	"github.com/nucbox/nucbox/image/authenticode"
	"github.com/nucbox/nucbox/image/disk"
	"github.com/nucbox/nucbox/image/esp"
	"github.com/nucbox/nucbox/image/secureboot"
	"github.com/nucbox/nucbox/image/uki"
	"github.com/nucbox/nucbox/test/harness"
)

// TestSecureBoot boots a signed USB image with enrolment keys under OVMF
// built with Secure Boot, its variables empty (setup mode): systemd-boot
// enrols PK, KEK and db from the ESP and resets, and the box comes up
// with Secure Boot on. Upgrades the firmware would not boot are refused
// (unsigned, signed by another key), as is a signed one the box cannot
// give a higher generation; one signed by db is taken. Then the same
// firmware, keys enrolled, runs the signed systemd-boot from a second
// stick and refuses the unsigned UKI on it.
func TestSecureBoot(t *testing.T) {
	harness.Require(t)
	bin := harness.Nucbox(t)
	keys, other := filepath.Join(t.TempDir(), "sb"), filepath.Join(t.TempDir(), "other")
	for _, d := range []string{keys, other} {
		if out, _, code := cli(t, bin, "secureboot", "keys", d); code != 0 {
			t.Fatalf("nucbox secureboot keys %s: exit %d\n%s", d, code, out)
		}
	}
	dbKey, dbCert := secureboot.KeyFile(keys, "db"), secureboot.CertFile(keys, "db")
	db, err := secureboot.LoadCert(dbCert)
	if err != nil {
		t.Fatal(err)
	}
	dbName := db.Subject.CommonName
	img := harness.BuildImage(t, harness.WriteConfig(t, "stick.yaml", usbConfig), harness.BuildArgs(
		"--disk", "512M", "--uki", "--sign-key", dbKey, "--sign-cert", dbCert, "--enroll-keys", keys))
	stick := filepath.Join(t.TempDir(), "stick.img")
	if out, err := exec.Command("cp", "--sparse=always", filepath.Join(img.Dir, image.DiskName), stick).CombinedOutput(); err != nil {
		t.Fatalf("copying the disk image: %v\n%s", err, out)
	}

	// Upgrade images made from the signed UKI of the build (generation 1).
	signedGen1, err := os.ReadFile(filepath.Join(img.Dir, image.UKIName))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := authenticode.Unsign(signedGen1)
	if err != nil {
		t.Fatal(err)
	}
	secs, _ := uki.Read(plain)
	osr, _ := uki.ParseOSRelease(secs.OSRel)
	osr.ImageVersion = 2
	unsigned, err := uki.Rewrite(plain, map[string][]byte{uki.OSRel: osr.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(dir string, b []byte) []byte {
		k, c, err := secureboot.LoadSigner(secureboot.KeyFile(dir, "db"), secureboot.CertFile(dir, "db"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := authenticode.Sign(b, k, c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	dir := t.TempDir()
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	unsignedFile := file("unsigned.efi", unsigned)
	foreignFile := file("foreign.efi", sign(other, unsigned))
	gen1File := file("gen1.efi", signedGen1)
	goodFile := file("good.efi", sign(keys, unsigned))

	start := time.Now()
	vars := filepath.Join(t.TempDir(), "vars.fd")
	m := bootStickVars(t, stick, vars, func(o *harness.Options) { o.Firmware = harness.OVMFSecureBoot })
	m.MustExpect(firmwareReadyTimeout, `Enrolling secure boot keys from directory: \\loader\\keys\\auto`)
	m.MustExpect(firmwareReadyTimeout, `nucbox: upgrade: Secure Boot on\b`)
	remote, _ := apiReady(t, m, firmwareReadyTimeout)
	t.Logf("enrolled and ready with Secure Boot on after %v", time.Since(start).Round(time.Second))

	stdout, _, code := cliRetry(t, bin, append([]string{"status", "-o", "json"}, remote...)...)
	var st api.Status
	if err := json.Unmarshal([]byte(stdout), &st); code != 0 || err != nil {
		t.Fatalf("status: exit %d, %v\n%s", code, err, stdout)
	}
	if st.SecureBoot != "on" {
		t.Errorf("status secure_boot %q, want on", st.SecureBoot)
	}
	if text, _, _ := cli(t, bin, append([]string{"status"}, remote...)...); !strings.Contains(text, "secure boot") || !strings.Contains(text, "on") {
		t.Errorf("status does not say Secure Boot is on:\n%s", text)
	}

	for _, c := range []struct{ name, file, want string }{
		{"unsigned", unsignedFile, "refused by Secure Boot: this box booted with Secure Boot on and the image is not signed"},
		{"signed by another key", foreignFile, `this box's db holds "` + dbName + `"`},
		{"signed, generation not higher", gen1File, "generation is too low: it says generation 1 and slot a runs generation 1; the box cannot raise it without breaking the signature: build it with --image-version 2"},
	} {
		_, stderr, code := cli(t, bin, append([]string{"upgrade", c.file, "--no-reboot"}, remote...)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("upgrade %s: exit %d, want a refusal saying %q\n%s", c.name, code, c.want, stderr)
		}
	}
	// Positive control: signed by db with a higher generation.
	stdout, stderr, code := cli(t, bin, append([]string{"upgrade", goodFile, "--no-reboot"}, remote...)...)
	if code != 0 || !strings.Contains(stdout, "slot b:") {
		t.Fatalf("upgrade signed by db: exit %d\n%s%s", code, stdout, stderr)
	}
	m.MustExpect(time.Minute, `nucbox: upgrade: upgrade signed by "`+regexp.QuoteMeta(dbName)+`", a key in db`)
	if err := m.Quit(); err != nil {
		t.Fatal(err)
	}
	m.WaitExit(time.Minute)

	// The same machine, keys enrolled, and a stick with the signed boot
	// loader and an unsigned UKI: systemd-boot runs, the UKI does not.
	loader, err := os.ReadFile(image.DefaultBootLoader)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "unsigned.img")
	f, err := os.Create(bad)
	if err != nil {
		t.Fatal(err)
	}
	err = disk.WriteTo(f, disk.Options{Size: 300 << 20, ESPSize: 64 << 20, Files: map[string][]byte{
		esp.BootLoader:          sign(keys, loader),
		esp.LoaderConf:          esp.LoaderConfig(),
		esp.SlotPath(esp.SlotA): unsigned,
	}})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	m2 := bootStickVars(t, bad, vars, func(o *harness.Options) { o.Firmware = harness.OVMFSecureBoot; o.NICs = nil })
	m2.MustExpect(2*time.Minute, `(?i)error loading .*nucbox-a\.efi.*(security violation|access denied)`)
	t.Logf("unsigned UKI refused after %v", time.Since(start).Round(time.Second))
	if strings.Contains(m2.Output(), "Linux version") {
		t.Error("the unsigned UKI's kernel started")
	}
}
