package secureboot

import (
	"crypto"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/nucbox/nucbox/image/authenticode"
)

// WIN_CERTIFICATE_UEFI_GUID.
const (
	winCertRevision = 0x0200
	winCertUEFIGUID = 0x0ef1
	authHeader      = 16 + 4 + 2 + 2 + 16 // EFI_TIME, dwLength, revision, type, CertType
)

// Auth is a time-based authenticated write of a variable: an .auth file
// as firmware's SetVariable and systemd-boot's enrolment take it.
type Auth struct {
	Time       time.Time
	SignedData []byte // PKCS#7 SignedData, detached
	Data       []byte // the new contents: signature lists
}

// SignVariable makes the authenticated write of data to variable name
// (under VarGUID(name), with KeyVarAttrs), signed by key and cert.
func SignVariable(name string, t time.Time, data []byte, key crypto.Signer, cert *x509.Certificate) ([]byte, error) {
	ts := efiTime(t)
	sd, err := authenticode.SignDetached(key, cert, signedPayload(name, VarGUID(name), KeyVarAttrs, ts, data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out := append([]byte(nil), ts...)
	out = binary.LittleEndian.AppendUint32(out, uint32(authHeader-16+len(sd)))
	out = binary.LittleEndian.AppendUint16(out, winCertRevision)
	out = binary.LittleEndian.AppendUint16(out, winCertUEFIGUID)
	out = append(out, certPKCS7[:]...)
	out = append(out, sd...)
	return append(out, data...), nil
}

// ParseAuth splits an .auth file.
func ParseAuth(b []byte) (Auth, error) {
	if len(b) < authHeader {
		return Auth{}, errors.New("auth: shorter than its header")
	}
	length := int(binary.LittleEndian.Uint32(b[16:]))
	if length < authHeader-16 || 16+length > len(b) {
		return Auth{}, fmt.Errorf("auth: certificate length %d out of range", length)
	}
	if rev, typ := binary.LittleEndian.Uint16(b[20:]), binary.LittleEndian.Uint16(b[22:]); rev != winCertRevision || typ != winCertUEFIGUID {
		return Auth{}, fmt.Errorf("auth: certificate revision %#x type %#x, want %#x %#x", rev, typ, winCertRevision, winCertUEFIGUID)
	}
	if GUID(b[24:40]) != certPKCS7 {
		return Auth{}, errors.New("auth: certificate is not PKCS#7")
	}
	y := binary.LittleEndian.Uint16(b)
	t := time.Date(int(y), time.Month(b[2]), int(b[3]), int(b[4]), int(b[5]), int(b[6]), 0, time.UTC)
	return Auth{Time: t, SignedData: b[authHeader : 16+length], Data: b[16+length:]}, nil
}

// VerifyAuth checks an .auth file for variable name against trusted
// signers and returns the signature lists it writes.
func VerifyAuth(name string, b []byte, trusted []*x509.Certificate) ([]byte, error) {
	a, err := ParseAuth(b)
	if err != nil {
		return nil, err
	}
	payload := signedPayload(name, VarGUID(name), KeyVarAttrs, b[:16], a.Data)
	if _, err := authenticode.VerifyDetached(a.SignedData, payload, trusted); err != nil {
		return nil, fmt.Errorf("%s.auth: %w", name, err)
	}
	return a.Data, nil
}
