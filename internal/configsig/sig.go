package configsig

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Suffix names a config's signature: the config's URL or file name with
// this added (box.yaml.sig beside box.yaml).
const Suffix = ".sig"

// ErrBadSignature is a well-formed signature that does not match: the
// config changed after it was signed, or another key signed it.
var ErrBadSignature = errors.New("the signature does not match the config and key")

// Sign returns the content of data's .sig file: the Ed25519 signature of
// data in standard base64, with a newline.
func Sign(priv ed25519.PrivateKey, data []byte) []byte {
	sig := ed25519.Sign(priv, data)
	return []byte(base64.StdEncoding.EncodeToString(sig) + "\n")
}

// Verify checks sig, a .sig file's content (base64, or the 64 raw bytes),
// against data and pub. A signature that is well formed but wrong is
// ErrBadSignature; one that is not a signature at all says so.
func Verify(pub ed25519.PublicKey, data, sig []byte) error {
	raw, err := decode(sig)
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub, data, raw) {
		return ErrBadSignature
	}
	return nil
}

func decode(sig []byte) ([]byte, error) {
	if len(sig) == ed25519.SignatureSize {
		return sig, nil
	}
	text := bytes.TrimSpace(sig)
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(raw, text)
	if err != nil || n != ed25519.SignatureSize {
		return nil, fmt.Errorf("not a signature: want %d bytes, raw or in base64 (%d bytes here)", ed25519.SignatureSize, len(sig))
	}
	return raw[:n], nil
}

// SignatureURL is where the signature of the config at a URL is: the same
// URL with Suffix added to its path; a query stays as it is, so that a
// server picking the config by query parameters sees the same ones.
func SignatureURL(configURL string) (string, error) {
	u, err := url.Parse(configURL)
	if err != nil {
		return "", err
	}
	if u.Path == "" || strings.HasSuffix(u.Path, "/") {
		return "", fmt.Errorf("the URL names no file, so there is no FILE%s to fetch its signature from", Suffix)
	}
	u.Path += Suffix
	if u.RawPath != "" {
		u.RawPath += Suffix
	}
	return u.String(), nil
}
