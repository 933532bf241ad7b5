package image

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"path"

	"github.com/nucbox/nucbox/image/authenticode"
	"github.com/nucbox/nucbox/image/esp"
	"github.com/nucbox/nucbox/image/secureboot"
	"github.com/nucbox/nucbox/image/uki"
)

// SBATGeneration is nucbox's SBAT security generation: raised when a
// released image must no longer boot where SBAT revocations are applied.
const SBATGeneration = 1

const projectURL = "https://github.com/nucbox/nucbox"

// signing is what Secure Boot asks of a build, read and checked before
// the long part of it so that a bad key fails at once.
type signing struct {
	key       crypto.Signer
	cert      *x509.Certificate
	enroll    map[string][]byte // ESP path -> .auth file
	microcode []byte
	microNote string // where the microcode came from, for the progress line
}

func (o Options) loadSigning() (*signing, error) {
	media := o.UKI || o.DiskSize > 0
	s := &signing{}
	var err error
	if (o.SignKey == "") != (o.SignCert == "") {
		return nil, fmt.Errorf("signing needs both a key and its certificate (--sign-key and --sign-cert)")
	}
	if o.SignKey != "" {
		if !media {
			return nil, fmt.Errorf("signing is for the UKI and the disk image: build one of them (--uki or --disk)")
		}
		if s.key, s.cert, err = secureboot.LoadSigner(o.SignKey, o.SignCert); err != nil {
			return nil, err
		}
	}
	if s.microcode, s.microNote, err = o.loadMicrocode(); err != nil {
		return nil, err
	}
	if o.EnrollKeys != "" {
		if o.DiskSize == 0 {
			return nil, fmt.Errorf("enrolment keys %s go onto the disk image's ESP: build it (--disk)", o.EnrollKeys)
		}
		if s.key == nil {
			return nil, fmt.Errorf("enrolment keys %s without signing: once they are enrolled an unsigned image does not boot (give --sign-key and --sign-cert)", o.EnrollKeys)
		}
		s.enroll = map[string][]byte{}
		for _, n := range secureboot.KeyNames {
			f := secureboot.AuthFile(o.EnrollKeys, n)
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("enrolment keys: %w (make them with 'nucbox secureboot keys %s')", err, o.EnrollKeys)
			}
			a, err := secureboot.ParseAuth(b)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if n == "db" {
				db, err := secureboot.ParseSignatureLists(a.Data)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", f, err)
				}
				if !containsCert(db, s.cert) {
					return nil, fmt.Errorf("%s does not hold the signing certificate %s (%q): the image would not boot once these keys are enrolled", f, o.SignCert, s.cert.Subject.CommonName)
				}
			}
			s.enroll[path.Join(esp.KeysDir, n+".auth")] = b
		}
	}
	return s, nil
}

func containsCert(certs []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range certs {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

// sign signs an EFI program when a key was given.
func (s *signing) sign(what string, img []byte) ([]byte, error) {
	if s.key == nil {
		return img, nil
	}
	out, err := authenticode.Sign(img, s.key, s.cert)
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", what, err)
	}
	return out, nil
}

// sbat is the image's own SBAT line; the stub's come before it.
func (o Options) sbat() []byte {
	v := o.Version
	if v == "" {
		v = "dev"
	}
	return uki.SBATLine("nucbox", SBATGeneration, "nucbox", "nucbox", v, projectURL)
}

// note is what the progress line says about signing and microcode.
func (s *signing) note() string {
	var n string
	if s.key != nil {
		n += fmt.Sprintf(", signed by %q", s.cert.Subject.CommonName)
	}
	return n + s.microNote
}
