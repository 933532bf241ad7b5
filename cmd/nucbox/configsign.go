package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/internal/atomicfile"
	"github.com/nucbox/nucbox/internal/configsig"
	"github.com/spf13/cobra"
)

func newConfigCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Sign configs that boxes fetch from a URL (keygen, sign, verify)",
		Long: `A box that fetches its config from a URL (a PXE rack: one image, a config
per MAC) trusts whoever answers at that URL. An image built with
'nucbox image build --config-key config.pub' trusts only configs signed
with the matching private key: for every config URL it also fetches the
URL with .sig added to its path and refuses the config, without retrying,
when that signature is missing or does not match. Such a box takes its
config over plain http too.

  1. nucbox config keygen -o keys/        once, on the machine that will sign
  2. nucbox image build ... --config-key keys/config.pub
  3. nucbox config sign --key keys/config.key configs/*.yaml
                                          after every edit; serve each
                                          CONFIG.sig beside its CONFIG

Keys are Ed25519 in OpenSSL's PEM files, a signature is Ed25519 over the
config's exact bytes (base64 in the .sig file), so a provisioning server
can also sign with 'openssl pkeyutl -sign -rawin'. A signature says who
wrote a config, not which machine it is for: anyone on the network can
still serve one machine's signed config to another.`,
	}
	c.AddCommand(newConfigKeygenCmd(), newConfigSignCmd(), newConfigVerifyCmd())
	return c
}

func newConfigKeygenCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "keygen -o DIR",
		Short: "Make a key pair for signing configs",
		Long: `Write a new Ed25519 key pair into DIR (created if needed):

  ` + configsig.PrivateKeyName + `  the private key, mode 0600: it signs configs
              (nucbox config sign); keep it on the signing machine only
  ` + configsig.PublicKeyName + `  the public key: it goes into images
              (nucbox image build --config-key)

Both are PEM files as OpenSSL writes them (PKCS #8 and PKIX). Existing
files are never replaced: every image built with the old public key
would refuse configs signed with a new private key.`,
		Example: `  nucbox config keygen -o keys/`,
		Args:    exactFiles(0, "-o DIR and no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			if dir == "" {
				return usageError{fmt.Errorf("config keygen needs -o DIR (see 'nucbox config keygen --help')")}
			}
			pub, err := keygen(dir)
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			fmt.Fprintf(out, "%s: private key; keep it secret, sign configs with: nucbox config sign --key %[1]s FILE...\n", filepath.Join(dir, configsig.PrivateKeyName))
			fmt.Fprintf(out, "%s: public key %s; bake it into images with: nucbox image build --config-key %[1]s ...\n", filepath.Join(dir, configsig.PublicKeyName), configsig.Fingerprint(pub))
			return nil
		},
	}
	c.Flags().StringVarP(&dir, "output", "o", "", "`DIR` for "+configsig.PrivateKeyName+" and "+configsig.PublicKeyName+" (required)")
	return c
}

// keygen writes a new key pair into dir. Neither file may exist: the
// files are created exclusively, the private key with mode 0600 from the
// start, and a failure removes what this call created.
func keygen(dir string) (ed25519.PublicKey, error) {
	privPath := filepath.Join(dir, configsig.PrivateKeyName)
	pubPath := filepath.Join(dir, configsig.PublicKeyName)
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("%s exists: not replacing it (images built with the old public key would refuse configs signed with a new one); remove it first or choose another directory", p)
		}
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	privPEM, err := configsig.MarshalPrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pubPEM, err := configsig.MarshalPublicKey(pub)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := createFile(privPath, privPEM, 0o600); err != nil {
		return nil, err
	}
	if err := createFile(pubPath, pubPEM, 0o644); err != nil {
		os.Remove(privPath)
		return nil, err
	}
	return pub, nil
}

// createFile writes a file that must not exist yet, durably.
func createFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

func newConfigSignCmd() *cobra.Command {
	var keyPath string
	var noValidate bool
	c := &cobra.Command{
		Use:   "sign --key KEY FILE...",
		Short: "Sign config files: write FILE.sig beside each",
		Long: `Sign each config FILE with the private key KEY and write the detached
signature to FILE.sig, replacing an older one. Serve FILE.sig beside FILE:
a box fetching http://server/configs/52:54:00:12:34:56.yaml also fetches
http://server/configs/52:54:00:12:34:56.yaml.sig.

The signature is Ed25519 over FILE's exact bytes, written as one line of
base64: any change to FILE after signing, even a trailing newline, makes
the box refuse it. Each FILE is validated first, as 'nucbox validate'
does, and an invalid one is not signed (--no-validate signs it anyway,
e.g. a config for a newer nucbox than this one).`,
		Example: `  nucbox config sign --key keys/config.key configs/*.yaml`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("config sign needs at least one config file (see 'nucbox config sign --help')")}
			}
			if keyPath == "" {
				return usageError{fmt.Errorf("config sign needs --key KEY, the private key from 'nucbox config keygen' (see 'nucbox config sign --help')")}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			priv, err := configsig.ReadPrivateKey(keyPath)
			if err != nil {
				return err
			}
			if fi, err := os.Stat(keyPath); err == nil && fi.Mode().Perm()&0o077 != 0 {
				fmt.Fprintf(c.ErrOrStderr(), "warning: %s is readable by others (mode %04o): chmod 600 %[1]s\n", keyPath, fi.Mode().Perm())
			}
			fp := configsig.Fingerprint(priv.Public().(ed25519.PublicKey))
			failed := false
			for _, path := range args {
				data, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				if !noValidate {
					if _, err := config.Parse(path, data); err != nil {
						failed = true
						writeLines(c.ErrOrStderr(), err)
						fmt.Fprintf(c.ErrOrStderr(), "%s: invalid, not signed\n", path)
						continue
					}
				}
				sigPath := path + configsig.Suffix
				if err := atomicfile.WriteFile(sigPath, configsig.Sign(priv, data), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "%s: signed %s (sha256 %s, key %s)\n", sigPath, path, shortSum(data), fp)
			}
			if failed {
				return errSilent
			}
			return nil
		},
	}
	c.Flags().StringVar(&keyPath, "key", "", "private `KEY` ("+configsig.PrivateKeyName+" from 'nucbox config keygen', or an Ed25519 PKCS #8 PEM file)")
	c.Flags().BoolVar(&noValidate, "no-validate", false, "sign configs that fail validation")
	return c
}

func newConfigVerifyCmd() *cobra.Command {
	var keyPath string
	c := &cobra.Command{
		Use:   "verify --key PUBKEY FILE...",
		Short: "Check FILE.sig against FILE as a box built with PUBKEY would",
		Long: `Check each FILE's signature, FILE.sig, with the public key PUBKEY (the
--config-key an image was built with), the way the box checks a config
it fetched. The exit status is 0 only when every signature matches.`,
		Example: `  nucbox config verify --key keys/config.pub configs/*.yaml`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("config verify needs at least one config file (see 'nucbox config verify --help')")}
			}
			if keyPath == "" {
				return usageError{fmt.Errorf("config verify needs --key PUBKEY, the public key (see 'nucbox config verify --help')")}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			pub, err := configsig.ReadPublicKey(keyPath)
			if err != nil {
				return err
			}
			fp := configsig.Fingerprint(pub)
			failed := false
			for _, path := range args {
				data, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				sigPath := path + configsig.Suffix
				sig, err := os.ReadFile(sigPath)
				switch {
				case errors.Is(err, fs.ErrNotExist):
					err = fmt.Errorf("%s: no signature (%s): sign it with nucbox config sign", path, sigPath)
				case err == nil:
					if err = configsig.Verify(pub, data, sig); err != nil {
						err = fmt.Errorf("%s: %w (key %s)", sigPath, err, fp)
					}
				}
				if err != nil {
					failed = true
					fmt.Fprintln(c.ErrOrStderr(), err)
					continue
				}
				fmt.Fprintf(c.OutOrStdout(), "%s: good signature of %s (key %s)\n", sigPath, path, fp)
			}
			if failed {
				return errSilent
			}
			return nil
		},
	}
	c.Flags().StringVar(&keyPath, "key", "", "public `PUBKEY` ("+configsig.PublicKeyName+")")
	return c
}

func shortSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])[:12]
}
