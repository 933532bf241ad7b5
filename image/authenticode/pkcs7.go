package authenticode

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// signedData builds a PKCS#7 SignedData (without the ContentInfo around
// it) by cert's key over digestInput. content, when not nil, is embedded
// as the SignedData's content of type contentType; with attrs the
// signature covers signed attributes that carry digestInput's hash, as
// Authenticode requires, and without them digestInput itself, as UEFI's
// authenticated variables are signed.
func signedData(key crypto.Signer, cert *x509.Certificate, contentType asn1.ObjectIdentifier, content, digestInput []byte, attrs bool) ([]byte, error) {
	sigAlg, err := signatureAlgorithm(key)
	if err != nil {
		return nil, err
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, errors.New("the key does not match the certificate")
	}
	digestAlg := seq(oid(oidSHA256), null)
	sum := sha256.Sum256(digestInput)
	signed := digestInput
	var attrField []byte
	if attrs {
		set := setOf(
			seq(oid(oidContentType), setOf(oid(contentType))),
			seq(oid(oidMessageDigest), setOf(octets(sum[:]))),
			seq(oid(oidSpcSpOpusInfo), setOf(seq())),
		)
		signed = set
		// In the SignerInfo the attributes carry an implicit [0] tag;
		// the signature is over their encoding as a SET.
		attrField = append([]byte{0xa0}, set[1:]...)
	}
	h := sha256.Sum256(signed)
	sig, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	serial, err := asn1.Marshal(cert.SerialNumber)
	if err != nil {
		return nil, err
	}
	signer := seq(integer(1), seq(cert.RawIssuer, serial), digestAlg, attrField, sigAlg, octets(sig))
	ci := seq(oid(contentType))
	if content != nil {
		ci = seq(oid(contentType), tlv(0xa0, content))
	}
	return seq(integer(1), setOf(digestAlg), ci, tlv(0xa0, cert.Raw), setOf(signer)), nil
}

// SignDetached returns a PKCS#7 SignedData (no ContentInfo around it,
// no signed attributes, the content left out) by cert's key over data:
// the form UEFI wants in an authenticated variable's descriptor.
func SignDetached(key crypto.Signer, cert *x509.Certificate, data []byte) ([]byte, error) {
	return signedData(key, cert, oidData, nil, data, false)
}

// VerifyDetached checks a SignedData made by SignDetached over data
// against trusted certificates and returns the signer's certificate.
func VerifyDetached(sd, data []byte, trusted []*x509.Certificate) (*x509.Certificate, error) {
	p, err := parseSignedData(sd)
	if err != nil {
		return nil, err
	}
	return p.verify(data, trusted)
}

func signatureAlgorithm(key crypto.Signer) ([]byte, error) {
	switch key.Public().(type) {
	case *rsa.PublicKey:
		return seq(oid(oidRSA), null), nil
	case *ecdsa.PublicKey:
		return seq(oid(oidECDSAWithSHA256)), nil
	}
	return nil, fmt.Errorf("unsupported key type %T (want RSA or ECDSA)", key.Public())
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// The parsed side; field names follow RFC 2315.
type rawContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"optional,tag:0"` // [0] EXPLICIT: Bytes is the content
}

type rawSignedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	ContentInfo      rawContentInfo
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      asn1.RawValue
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type rawSignerInfo struct {
	Version         int
	IssuerAndSerial issuerAndSerial
	DigestAlgorithm pkix.AlgorithmIdentifier
	AuthAttrs       asn1.RawValue `asn1:"optional,tag:0"`
	SigAlg          pkix.AlgorithmIdentifier
	Signature       []byte
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue
}

type parsed struct {
	sd     rawSignedData
	signer rawSignerInfo
	certs  []*x509.Certificate
}

func parseSignedData(der []byte) (*parsed, error) {
	var p parsed
	rest, err := asn1.Unmarshal(der, &p.sd)
	if err != nil {
		return nil, fmt.Errorf("PKCS#7 SignedData: %w", err)
	}
	if len(bytes.Trim(rest, "\x00")) > 0 {
		return nil, errors.New("PKCS#7 SignedData: trailing data")
	}
	if len(p.sd.Certificates.Bytes) > 0 {
		if p.certs, err = x509.ParseCertificates(p.sd.Certificates.Bytes); err != nil {
			return nil, fmt.Errorf("PKCS#7 certificates: %w", err)
		}
	}
	rest, err = asn1.Unmarshal(p.sd.SignerInfos.Bytes, &p.signer)
	if err != nil {
		return nil, fmt.Errorf("PKCS#7 signer: %w", err)
	}
	if len(rest) > 0 {
		return nil, errors.New("PKCS#7: more than one signer")
	}
	if !p.signer.DigestAlgorithm.Algorithm.Equal(oidSHA256) {
		return nil, fmt.Errorf("PKCS#7: digest %v, want SHA-256", p.signer.DigestAlgorithm.Algorithm)
	}
	return &p, nil
}

// verify checks the signature over digestInput (directly, or through
// the signed attributes' message digest) and that the signer is one of
// trusted or signed by one of them.
func (p *parsed) verify(digestInput []byte, trusted []*x509.Certificate) (*x509.Certificate, error) {
	signed := digestInput
	if len(p.signer.AuthAttrs.FullBytes) > 0 {
		sum := sha256.Sum256(digestInput)
		md, err := p.messageDigest()
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(md, sum[:]) {
			return nil, errors.New("the signed message digest does not match the content")
		}
		signed = append([]byte{0x31}, p.signer.AuthAttrs.FullBytes[1:]...)
	}
	signer := p.signerCert(trusted)
	if signer == nil {
		return nil, errors.New("the signer's certificate is not in the signature")
	}
	alg := x509.SHA256WithRSA
	if _, ok := signer.PublicKey.(*ecdsa.PublicKey); ok {
		alg = x509.ECDSAWithSHA256
	}
	if err := signer.CheckSignature(alg, signed, p.signer.Signature); err != nil {
		return nil, fmt.Errorf("bad signature by %q: %w", signer.Subject.CommonName, err)
	}
	for _, t := range trusted {
		if bytes.Equal(t.Raw, signer.Raw) ||
			t.CheckSignature(signer.SignatureAlgorithm, signer.RawTBSCertificate, signer.Signature) == nil {
			return signer, nil
		}
	}
	return signer, &UntrustedError{Signer: signer}
}

// UntrustedError is a valid signature by a certificate none of the
// trusted ones is or signed.
type UntrustedError struct{ Signer *x509.Certificate }

func (e *UntrustedError) Error() string {
	return fmt.Sprintf("signed by %q (serial %x), which is not a trusted certificate", e.Signer.Subject.String(), e.Signer.SerialNumber)
}

func (p *parsed) signerCert(trusted []*x509.Certificate) *x509.Certificate {
	id := p.signer.IssuerAndSerial
	for _, c := range append(append([]*x509.Certificate(nil), p.certs...), trusted...) {
		if bytes.Equal(c.RawIssuer, id.Issuer.FullBytes) && c.SerialNumber.Cmp(id.Serial) == 0 {
			return c
		}
	}
	return nil
}

func (p *parsed) messageDigest() ([]byte, error) {
	rest := p.signer.AuthAttrs.Bytes
	for len(rest) > 0 {
		var a attribute
		var err error
		if rest, err = asn1.Unmarshal(rest, &a); err != nil {
			return nil, fmt.Errorf("PKCS#7 signed attributes: %w", err)
		}
		if a.Type.Equal(oidMessageDigest) {
			var md []byte
			if _, err := asn1.Unmarshal(a.Values.Bytes, &md); err != nil {
				return nil, fmt.Errorf("PKCS#7 message digest: %w", err)
			}
			return md, nil
		}
	}
	return nil, errors.New("PKCS#7: signed attributes without a message digest")
}
