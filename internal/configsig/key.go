package configsig

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// PublicKeyPath is where an image carries the config key. A box whose
// image has a file there takes a config from a URL only with a valid
// signature.
const PublicKeyPath = "/etc/nucbox/config.pub"

// File names `nucbox config keygen` writes in its directory.
const (
	PrivateKeyName = "config.key"
	PublicKeyName  = "config.pub"
)

const (
	publicType  = "PUBLIC KEY"
	privateType = "PRIVATE KEY"
)

// MarshalPublicKey is the PEM text of a public key file.
func MarshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: publicType, Bytes: der}), nil
}

// MarshalPrivateKey is the PEM text of a private key file.
func MarshalPrivateKey(priv ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: privateType, Bytes: der}), nil
}

// ErrPrivateKey is ParsePublicKey's answer to a file that holds a private
// key: it must not go into an image, where anyone with the image could
// sign configs with it.
var ErrPrivateKey = errors.New("this file holds a private key: give the public key (" + PublicKeyName +
	"); the private key stays on the machine that signs configs")

// ParsePublicKey reads a public key file. A file with any private key in
// it is refused with ErrPrivateKey, even next to a public key.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, err
	}
	var pub ed25519.PublicKey
	for _, b := range blocks {
		switch {
		case strings.Contains(b.Type, privateType):
			return nil, ErrPrivateKey
		case b.Type != publicType:
			return nil, fmt.Errorf("a PEM %q block: want one %q block (the %s that 'nucbox config keygen' writes)", b.Type, publicType, PublicKeyName)
		case pub != nil:
			return nil, fmt.Errorf("more than one public key: want exactly one")
		}
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("a %s public key: want ed25519", keyKind(k))
		}
		pub = ek
	}
	return pub, nil
}

// ParsePrivateKey reads a private key file.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, err
	}
	if len(blocks) != 1 || blocks[0].Type != privateType {
		if len(blocks) == 1 && blocks[0].Type == publicType {
			return nil, fmt.Errorf("this is a public key: signing needs the private key (%s)", PrivateKeyName)
		}
		return nil, fmt.Errorf("want one PEM %q block (the %s that 'nucbox config keygen' writes)", privateType, PrivateKeyName)
	}
	k, err := x509.ParsePKCS8PrivateKey(blocks[0].Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %s private key: want ed25519", keyKind(k))
	}
	return ek, nil
}

// ReadPublicKey reads and parses a public key file.
func ReadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ReadPrivateKey reads and parses a private key file.
func ReadPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// Fingerprint names a public key in messages, so that the key an image
// carries can be told from the one a config was signed with: the first
// 16 hex digits of the SHA-256 of the 32 key bytes.
func Fingerprint(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:8])
}

// pemBlocks decodes every PEM block in data; text around them is
// allowed, as OpenSSL allows it, but data must hold at least one.
func pemBlocks(data []byte) ([]*pem.Block, error) {
	var out []*pem.Block
	for {
		b, rest := pem.Decode(data)
		if b == nil {
			break
		}
		out = append(out, b)
		data = rest
	}
	if len(out) == 0 {
		return nil, errors.New("not a PEM key file (want the files 'nucbox config keygen' writes)")
	}
	return out, nil
}

func keyKind(k any) string {
	return strings.TrimPrefix(strings.TrimPrefix(fmt.Sprintf("%T", k), "*"), "crypto/")
}
