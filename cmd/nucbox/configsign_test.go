package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/internal/configsig"
)

func TestConfigSignGolden(t *testing.T) {
	dir := t.TempDir()
	if _, err := keygen(filepath.Join(dir, "keys")); err != nil {
		t.Fatal(err)
	}
	image := []string{"image", "build", "-c", "../../examples/basic.yaml", "-o", "DIR/out", "--kernel", "k", "--modules", "m"}
	tests := []goldenCase{
		{"config-help", []string{"config", "--help"}, 0},
		{"config-keygen-help", []string{"config", "keygen", "--help"}, 0},
		{"config-sign-help", []string{"config", "sign", "--help"}, 0},
		{"config-verify-help", []string{"config", "verify", "--help"}, 0},
		{"config-keygen-no-output", []string{"config", "keygen"}, 2},
		{"config-keygen-exists", []string{"config", "keygen", "-o", "DIR/keys"}, 1},
		{"config-sign-no-key", []string{"config", "sign", "../../examples/basic.yaml"}, 2},
		{"config-sign-public-key", []string{"config", "sign", "--key", "DIR/keys/config.pub", "../../examples/basic.yaml"}, 1},
		{"config-verify-no-signature", []string{"config", "verify", "--key", "DIR/keys/config.pub", "../../examples/basic.yaml"}, 1},
		{"image-build-pxe-http-no-key", append(image, "--pxe", "--pxe-server", "10.0.0.1"), 2},
		{"image-build-private-config-key", append(image, "--pxe", "--pxe-server", "10.0.0.1", "--config-key", "DIR/keys/config.key"), 1},
	}
	runGolden(t, "", tests, strings.NewReplacer("DIR", dir), strings.NewReplacer(dir, "DIR"))
}

// TestConfigKeygenSignVerify walks the documented steps: a key pair, a
// signature beside each config, and the check a box makes.
func TestConfigKeygenSignVerify(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	stdout, stderr, code := run("config", "keygen", "-o", keys)
	if code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, stderr)
	}
	priv, pub := filepath.Join(keys, configsig.PrivateKeyName), filepath.Join(keys, configsig.PublicKeyName)
	for path, mode := range map[string]os.FileMode{priv: 0o600, pub: 0o644, keys: 0o700} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		// The umask may narrow the public files, never widen the key.
		if got := fi.Mode().Perm(); got&^mode != 0 || (path == priv && got != 0o600) {
			t.Errorf("%s: mode %04o, want %04o", path, got, mode)
		}
	}
	pubKey, err := configsig.ReadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := configsig.ReadPrivateKey(priv); err != nil {
		t.Fatal(err)
	}
	fp := configsig.Fingerprint(pubKey)
	if !strings.Contains(stdout, fp) || !strings.Contains(stdout, "--config-key "+pub) {
		t.Errorf("keygen output does not give the fingerprint and the next step:\n%s", stdout)
	}
	// Never replaced: images built with the first key would be orphaned.
	before, _ := os.ReadFile(priv)
	if _, stderr, code := run("config", "keygen", "-o", keys); code != 1 || !strings.Contains(stderr, "not replacing it") {
		t.Errorf("second keygen: exit %d, %s", code, stderr)
	}
	if after, _ := os.ReadFile(priv); string(after) != string(before) {
		t.Error("second keygen changed the private key")
	}

	cfgs := map[string]string{
		"rack-1.yaml": "hostname: rack-1\n",
		"rack-2.yaml": "hostname: rack-2\n",
	}
	var args []string
	for name, c := range cfgs {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(c), 0o644)
		args = append(args, p)
	}
	stdout, stderr, code = run(append([]string{"config", "sign", "--key", priv}, args...)...)
	if code != 0 || stderr != "" {
		t.Fatalf("sign: exit %d: %s", code, stderr)
	}
	for _, p := range args {
		data, _ := os.ReadFile(p)
		sig, err := os.ReadFile(p + ".sig")
		if err != nil {
			t.Fatal(err)
		}
		if err := configsig.Verify(pubKey, data, sig); err != nil {
			t.Errorf("%s.sig: %v", p, err)
		}
		if !strings.Contains(stdout, p+".sig: signed "+p) || !strings.Contains(stdout, "key "+fp) {
			t.Errorf("sign output does not name %s and the key:\n%s", p, stdout)
		}
	}
	if stdout, stderr, code := run(append([]string{"config", "verify", "--key", pub}, args...)...); code != 0 || strings.Count(stdout, "good signature") != 2 {
		t.Errorf("verify: exit %d\n%s%s", code, stdout, stderr)
	}

	// A changed config no longer verifies; signing it again mends that.
	os.WriteFile(args[0], []byte(cfgs[filepath.Base(args[0])]+"# edited\n"), 0o644)
	if _, stderr, code := run("config", "verify", "--key", pub, args[0]); code != 1 || !strings.Contains(stderr, configsig.ErrBadSignature.Error()) {
		t.Errorf("verify after an edit: exit %d, %s", code, stderr)
	}
	if _, stderr, code := run("config", "sign", "--key", priv, args[0]); code != 0 {
		t.Fatalf("sign again: %s", stderr)
	}
	if _, stderr, code := run("config", "verify", "--key", pub, args[0]); code != 0 {
		t.Errorf("verify after signing again: %s", stderr)
	}

	// An invalid config is not signed unless asked.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("hostname: Not_A_Hostname\nfrobnicate: 1\n"), 0o644)
	if _, stderr, code := run("config", "sign", "--key", priv, bad); code != 1 || !strings.Contains(stderr, "invalid, not signed") {
		t.Errorf("signing an invalid config: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(bad + ".sig"); err == nil {
		t.Error("an invalid config was signed")
	}
	if _, stderr, code := run("config", "sign", "--no-validate", "--key", priv, bad); code != 0 {
		t.Errorf("--no-validate: exit %d, %s", code, stderr)
	}

	// A private key others can read is used, with a warning.
	os.Chmod(priv, 0o644)
	if _, stderr, code := run("config", "sign", "--key", priv, args[1]); code != 0 || !strings.Contains(stderr, "chmod 600 "+priv) {
		t.Errorf("readable key: exit %d, %s", code, stderr)
	}
}
