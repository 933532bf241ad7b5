package image

import (
	"crypto/ed25519"
	"fmt"
	"strings"

	"github.com/nucbox/nucbox/internal/configsig"
)

// readConfigKey reads Options.ConfigKey, nil without one. A private key,
// or a file with one in it, is refused: anyone holding the image could
// sign configs with it.
func (o Options) readConfigKey() (ed25519.PublicKey, error) {
	if o.ConfigKey == "" {
		return nil, nil
	}
	pub, err := configsig.ReadPublicKey(o.ConfigKey)
	if err != nil {
		return nil, fmt.Errorf("config key: %w", err)
	}
	return pub, nil
}

// addConfigKey bakes the config key in at configsig.PublicKeyPath, as a
// PEM file written anew so that nothing else from the key file goes in,
// and returns its fingerprint ("" without a key).
func addConfigKey(t *tree, o Options, pub ed25519.PublicKey) (string, error) {
	if pub == nil {
		return "", nil
	}
	pemText, err := configsig.MarshalPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("config key %s: %w", o.ConfigKey, err)
	}
	if err := t.generated(configsig.PublicKeyPath, pemText, 0o644, "config key "+o.ConfigKey); err != nil {
		return "", err
	}
	return configsig.Fingerprint(pub), nil
}

// CheckConfigSource refuses an image whose box would refuse its own config
// URL: one over plain http, with neither a config key to check signatures
// with nor nucbox.config.sha256= on the kernel command line. A rack booted
// from such an image would sit in maintenance mode, machine after machine.
func (o Options) CheckConfigSource() error {
	if !o.wantsMedia() {
		return nil // the kernel command line is the boot loader's
	}
	urls := []string{}
	if o.PXE && o.ConfigURL != "" {
		urls = append(urls, o.ConfigURL)
	}
	pinned := false
	for _, w := range strings.Fields(o.cmdline()) {
		if v, ok := strings.CutPrefix(w, "nucbox.config="); ok {
			urls = append(urls, v)
		}
		if v, ok := strings.CutPrefix(w, "nucbox.config.sha256="); ok && v != "" {
			pinned = true
		}
	}
	if o.ConfigKey != "" || pinned {
		return nil
	}
	for _, u := range urls {
		if strings.HasPrefix(u, "http://") {
			return fmt.Errorf("config URL %s is plain http: the box refuses a config fetched over plain http unless it is signed or pinned; "+
				"build the image with a config key (--config-key %s, from 'nucbox config keygen') and serve each config with its signature "+
				"(nucbox config sign), use an https URL, or pin one config with nucbox.config.sha256= on the kernel command line (--cmdline)",
				u, configsig.PublicKeyName)
		}
	}
	return nil
}
