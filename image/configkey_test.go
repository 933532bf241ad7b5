package image

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/internal/configsig"
	"github.com/u-root/u-root/pkg/cpio"
)

// writeKeyPair writes a config key pair as 'nucbox config keygen' does
// and returns the paths of the public and the private key.
func writeKeyPair(t *testing.T) (pubPath, privPath string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pubPEM, _ := configsig.MarshalPublicKey(pub)
	privPEM, _ := configsig.MarshalPrivateKey(priv)
	pubPath, privPath = filepath.Join(dir, configsig.PublicKeyName), filepath.Join(dir, configsig.PrivateKeyName)
	if err := os.WriteFile(pubPath, append([]byte("# the rack's config key\n"), pubPEM...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(privPath, privPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return pubPath, privPath
}

// TestBuildConfigKey: the public key goes in at the path boot reads it
// from, as a bare PEM file; nothing goes in without one.
func TestBuildConfigKey(t *testing.T) {
	pubPath, _ := writeKeyPair(t)
	o := fixtureOptions(t)
	o.ConfigKey = pubPath
	var log strings.Builder
	o.Progress = &log
	res, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	want, err := configsig.ReadPublicKey(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if res.ConfigKey != configsig.Fingerprint(want) {
		t.Errorf("Result.ConfigKey = %q, want %q", res.ConfigKey, configsig.Fingerprint(want))
	}
	a := readArchive(t, res.Initramfs)
	name := strings.TrimPrefix(configsig.PublicKeyPath, "/")
	if r := a.get(t, name); r.Mode != cpio.S_IFREG|0o644 {
		t.Errorf("%s: mode %#o, want a regular file 0644", configsig.PublicKeyPath, r.Mode)
	}
	got, err := configsig.ParsePublicKey([]byte(a.content(t, name)))
	if err != nil || !got.Equal(want) {
		t.Errorf("baked key %x, %v; want %x", got, err, want)
	}
	if c := a.content(t, name); !strings.HasPrefix(c, "-----BEGIN PUBLIC KEY-----") {
		t.Errorf("baked key file is not the bare PEM:\n%s", c)
	}
	if !strings.Contains(log.String(), "key       "+pubPath+" ("+res.ConfigKey+")") {
		t.Errorf("progress does not name the key:\n%s", log.String())
	}

	o = fixtureOptions(t)
	res, err = Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := readArchive(t, res.Initramfs).recs[name]; ok || res.ConfigKey != "" {
		t.Errorf("a build without a config key has %s", configsig.PublicKeyPath)
	}
}

// TestBuildConfigKeyRefused: a private key given by mistake, or slipped in
// as an extra file, never reaches the image.
func TestBuildConfigKeyRefused(t *testing.T) {
	pubPath, privPath := writeKeyPair(t)
	both := filepath.Join(t.TempDir(), "both.pem")
	pubPEM, _ := os.ReadFile(pubPath)
	privPEM, _ := os.ReadFile(privPath)
	os.WriteFile(both, append(pubPEM, privPEM...), 0o600)
	for _, tc := range []struct {
		name   string
		change func(*Options)
		err    string
	}{
		{"private key", func(o *Options) { o.ConfigKey = privPath }, "holds a private key"},
		{"public and private key in one file", func(o *Options) { o.ConfigKey = both }, "holds a private key"},
		{"not a key", func(o *Options) { o.ConfigKey = "testdata/config.yaml" }, "not a PEM key file"},
		{"missing", func(o *Options) { o.ConfigKey = "/nonexistent/config.pub" }, "/nonexistent/config.pub"},
		{"as an extra file", func(o *Options) { o.Files = map[string]string{configsig.PublicKeyPath: pubPath} }, "give the config key as ConfigKey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := fixtureOptions(t)
			tc.change(&o)
			_, err := Build(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Build = %v, want an error saying %q", err, tc.err)
			}
			if strings.Contains(tc.err, "private") && !errors.Is(err, configsig.ErrPrivateKey) {
				t.Errorf("%v is not configsig.ErrPrivateKey", err)
			}
			if _, err := os.Stat(o.OutDir); err == nil {
				t.Errorf("a refused build wrote %s", o.OutDir)
			}
		})
	}
}

// TestCheckConfigSource: an image whose box would refuse its own config
// URL (plain http, no key, no pin) is refused at build time.
func TestCheckConfigSource(t *testing.T) {
	pin := " nucbox.config.sha256=" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name string
		o    Options
		err  bool
	}{
		{"PXE over http", Options{PXE: true, ConfigURL: "http://10.0.0.1/configs/${mac}.yaml"}, true},
		{"PXE over http with a key", Options{PXE: true, ConfigURL: "http://10.0.0.1/configs/${mac}.yaml", ConfigKey: "k.pub"}, false},
		{"PXE over http with a pin", Options{PXE: true, ConfigURL: "http://10.0.0.1/c.yaml", Cmdline: DefaultCmdline + pin}, false},
		{"PXE over https", Options{PXE: true, ConfigURL: "https://cfg/configs/${mac}.yaml"}, false},
		{"UKI with an http URL on the command line", Options{UKI: true, Cmdline: "console=ttyS0 nucbox.config=http://10.0.0.1/c.yaml"}, true},
		{"UKI with an http URL and a key", Options{UKI: true, Cmdline: "nucbox.config=http://10.0.0.1/c.yaml", ConfigKey: "k.pub"}, false},
		{"disk with a file config", Options{DiskSize: 1 << 30, Cmdline: "nucbox.config=/data/box.yaml"}, false},
		{"no media: the command line is the boot loader's", Options{Cmdline: "nucbox.config=http://10.0.0.1/c.yaml"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.CheckConfigSource()
			if tc.err != (err != nil) {
				t.Fatalf("CheckConfigSource = %v, want an error: %v", err, tc.err)
			}
			if err != nil && !strings.Contains(err.Error(), "is plain http") {
				t.Errorf("error %v", err)
			}
		})
	}
}
