package secureboot

import (
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
)

// GUID is an EFI GUID in its in-memory byte order (the first three
// fields little-endian).
type GUID [16]byte

// MustGUID parses "8be4df61-93ca-11d2-aa0d-00e098032b8c".
func MustGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

// ParseGUID parses a GUID in its usual text form.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 || strings.Count(s, "-") != 4 {
		return g, fmt.Errorf("bad GUID %q", s)
	}
	binary.LittleEndian.PutUint32(g[0:], binary.BigEndian.Uint32(b[0:]))
	binary.LittleEndian.PutUint16(g[4:], binary.BigEndian.Uint16(b[4:]))
	binary.LittleEndian.PutUint16(g[6:], binary.BigEndian.Uint16(b[6:]))
	copy(g[8:], b[8:])
	return g, nil
}

func (g GUID) String() string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", binary.LittleEndian.Uint32(g[0:]),
		binary.LittleEndian.Uint16(g[4:]), binary.LittleEndian.Uint16(g[6:]), g[8:10], g[10:])
}

// Well-known GUIDs.
var (
	// GlobalVariable owns PK, KEK, SecureBoot and SetupMode.
	GlobalVariable = MustGUID("8be4df61-93ca-11d2-aa0d-00e098032b8c")
	// ImageSecurityDatabase owns db and dbx.
	ImageSecurityDatabase = MustGUID("d719b2cb-3d3a-4596-a3bc-dad00e67656f")
	certX509              = MustGUID("a5c059a1-94e4-4aa7-87b5-ab155c2bf072")
	certPKCS7             = MustGUID("4aafd29d-68df-49ee-8aa9-347d375665a7")
)

// VarGUID is the vendor GUID a Secure Boot key variable lives under.
func VarGUID(name string) GUID {
	if name == "db" || name == "dbx" {
		return ImageSecurityDatabase
	}
	return GlobalVariable
}

// Variable attributes: non-volatile, boot and runtime access, and
// time-based authenticated writes, as the key variables require.
const (
	AttrNonVolatile   = 0x01
	AttrBootService   = 0x02
	AttrRuntime       = 0x04
	AttrTimeBasedAuth = 0x20
	KeyVarAttrs       = AttrNonVolatile | AttrBootService | AttrRuntime | AttrTimeBasedAuth
)

// SignatureList encodes certificates as one EFI_SIGNATURE_LIST of X.509
// entries per certificate (entries of a list must have one size), each
// owned by owner.
func SignatureList(owner GUID, certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		const header = 16 + 4 + 4 + 4
		sigSize := 16 + len(c.Raw)
		b := make([]byte, header, header+sigSize)
		copy(b, certX509[:])
		binary.LittleEndian.PutUint32(b[16:], uint32(header+sigSize))
		binary.LittleEndian.PutUint32(b[20:], 0)
		binary.LittleEndian.PutUint32(b[24:], uint32(sigSize))
		b = append(b, owner[:]...)
		out = append(out, append(b, c.Raw...)...)
	}
	return out
}

// ParseSignatureLists returns the X.509 certificates in a run of
// EFI_SIGNATURE_LISTs (a db variable's contents); lists of other types
// (hashes) are skipped.
func ParseSignatureLists(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for len(b) > 0 {
		if len(b) < 28 {
			return nil, errors.New("signature list: truncated header")
		}
		var typ GUID
		copy(typ[:], b)
		size := int(binary.LittleEndian.Uint32(b[16:]))
		hdr := int(binary.LittleEndian.Uint32(b[20:]))
		sig := int(binary.LittleEndian.Uint32(b[24:]))
		if size < 28+hdr || size > len(b) || sig < 16 || (size-28-hdr)%sig != 0 {
			return nil, fmt.Errorf("signature list: sizes %d/%d/%d do not fit %d bytes", size, hdr, sig, len(b))
		}
		if typ == certX509 {
			for off := 28 + hdr; off < size; off += sig {
				c, err := x509.ParseCertificate(b[off+16 : off+sig])
				if err != nil {
					return nil, fmt.Errorf("signature list: %w", err)
				}
				certs = append(certs, c)
			}
		}
		b = b[size:]
	}
	return certs, nil
}

// efiTime encodes an EFI_TIME in UTC with the fields authenticated
// variables require to be zero left zero.
func efiTime(t time.Time) []byte {
	t = t.UTC()
	b := make([]byte, 16)
	binary.LittleEndian.PutUint16(b[0:], uint16(t.Year()))
	b[2], b[3], b[4], b[5], b[6] = byte(t.Month()), byte(t.Day()), byte(t.Hour()), byte(t.Minute()), byte(t.Second())
	return b
}

func utf16le(s string) []byte {
	var b []byte
	for _, c := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

// signedPayload is what an authenticated variable write signs.
func signedPayload(name string, guid GUID, attrs uint32, ts, data []byte) []byte {
	b := utf16le(name)
	b = append(b, guid[:]...)
	b = binary.LittleEndian.AppendUint32(b, attrs)
	b = append(b, ts...)
	return append(b, data...)
}

// Bytes returns the GUID's 16 bytes.
func (g GUID) Bytes() []byte { return g[:] }
