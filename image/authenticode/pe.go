package authenticode

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"debug/pe"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// peLayout is where the fields the hash skips sit in one image.
type peLayout struct {
	checksum      int // offset of the optional header's CheckSum
	secDir        int // offset of the security data directory entry
	sizeOfHeaders int
	sections      []*pe.Section
	certOff       int // certificate table; 0 when unsigned
	certSize      int
}

func layout(img []byte) (*peLayout, error) {
	f, err := pe.NewFile(bytes.NewReader(img))
	if err != nil {
		return nil, fmt.Errorf("not a PE image: %w", err)
	}
	peOff := int(binary.LittleEndian.Uint32(img[0x3c:]))
	opt := peOff + 4 + 20
	l := &peLayout{checksum: opt + 64, sections: f.Sections}
	var dirs []pe.DataDirectory
	switch o := f.OptionalHeader.(type) {
	case *pe.OptionalHeader64:
		l.secDir, l.sizeOfHeaders, dirs = opt+112+4*8, int(o.SizeOfHeaders), o.DataDirectory[:o.NumberOfRvaAndSizes]
	case *pe.OptionalHeader32:
		l.secDir, l.sizeOfHeaders, dirs = opt+96+4*8, int(o.SizeOfHeaders), o.DataDirectory[:o.NumberOfRvaAndSizes]
	default:
		return nil, errors.New("PE image without an optional header")
	}
	if len(dirs) <= 4 {
		return nil, errors.New("PE image has no security directory entry")
	}
	if l.sizeOfHeaders < l.secDir+8 || l.sizeOfHeaders > len(img) {
		return nil, fmt.Errorf("PE SizeOfHeaders %d out of range", l.sizeOfHeaders)
	}
	if d := dirs[4]; d.VirtualAddress != 0 || d.Size != 0 {
		l.certOff, l.certSize = int(d.VirtualAddress), int(d.Size)
		// Firmware looks for the table at the end, and a table anywhere
		// else would be hashed as part of the image.
		if l.certOff < l.sizeOfHeaders || l.certOff+l.certSize != len(img) {
			return nil, fmt.Errorf("certificate table at %d+%d is not at the end of the %d-byte image", l.certOff, l.certSize, len(img))
		}
	}
	return l, nil
}

// Hash returns an image's Authenticode SHA-256 hash.
func Hash(img []byte) ([]byte, error) {
	l, err := layout(img)
	if err != nil {
		return nil, err
	}
	return l.hash(img)
}

func (l *peLayout) hash(img []byte) ([]byte, error) {
	h := sha256.New()
	h.Write(img[:l.checksum])
	h.Write(img[l.checksum+4 : l.secDir])
	h.Write(img[l.secDir+8 : l.sizeOfHeaders])
	secs := append([]*pe.Section(nil), l.sections...)
	sort.Slice(secs, func(i, j int) bool { return secs[i].Offset < secs[j].Offset })
	end := len(img) - l.certSize
	hashed := l.sizeOfHeaders
	for _, s := range secs {
		if s.Size == 0 {
			continue
		}
		lo, hi := int(s.Offset), int(s.Offset)+int(s.Size)
		if lo < hashed || hi > end {
			return nil, fmt.Errorf("section %s at %d+%d overlaps the headers, another section or the certificate table", s.Name, lo, s.Size)
		}
		h.Write(img[lo:hi])
		hashed = hi
	}
	// Whatever follows the last section (but not the table) is signed too.
	if hashed < end {
		h.Write(img[hashed:end])
	}
	return h.Sum(nil), nil
}

// WIN_CERTIFICATE.
const (
	winCertRevision   = 0x0200
	winCertPKCSSigned = 0x0002
	winCertHeader     = 8
)

// Signed reports whether an image carries a certificate table.
func Signed(img []byte) bool {
	l, err := layout(img)
	return err == nil && l.certSize > 0
}

// Sign returns img with an Authenticode signature by key, whose
// certificate is cert. An image already signed is refused rather than
// given a second signature: sign what was built.
func Sign(img []byte, key crypto.Signer, cert *x509.Certificate) ([]byte, error) {
	l, err := layout(img)
	if err != nil {
		return nil, err
	}
	if l.certSize > 0 {
		return nil, errors.New("the image is signed already")
	}
	out := append([]byte(nil), img...)
	// The table starts on an 8-byte boundary; the padding before it is
	// part of the image and so of the hash.
	out = append(out, make([]byte, (8-len(out)%8)%8)...)
	sum, err := l.hash(out)
	if err != nil {
		return nil, err
	}
	sd, err := signedData(key, cert, oidSpcIndirectData, indirectData(sum), indirectDigestInput(sum), true)
	if err != nil {
		return nil, err
	}
	blob := seq(oid(oidSignedData), tlv(0xa0, sd))
	length := winCertHeader + len(blob)
	table := make([]byte, winCertHeader, length+7)
	binary.LittleEndian.PutUint32(table[0:], uint32(length))
	binary.LittleEndian.PutUint16(table[4:], winCertRevision)
	binary.LittleEndian.PutUint16(table[6:], winCertPKCSSigned)
	table = append(table, blob...)
	table = append(table, make([]byte, (8-len(table)%8)%8)...)
	binary.LittleEndian.PutUint32(out[l.secDir:], uint32(len(out)))
	binary.LittleEndian.PutUint32(out[l.secDir+4:], uint32(len(table)))
	return append(out, table...), nil
}

// indirectData is the SpcIndirectDataContent naming a PE image hash,
// laid out as signing tools and firmware expect it: firmware compares
// the hash at the very end of this structure.
func indirectData(sum []byte) []byte {
	obsolete := []byte{0, '<', 0, '<', 0, '<', 0, 'O', 0, 'b', 0, 's', 0, 'o', 0, 'l', 0, 'e', 0, 't', 0, 'e', 0, '>', 0, '>', 0, '>'}
	peImageData := seq(tlv(0x03, []byte{0}), tlv(0xa0, tlv(0xa2, tlv(0x80, obsolete))))
	return seq(
		seq(oid(oidSpcPEImageData), peImageData),
		seq(seq(oid(oidSHA256), null), octets(sum)),
	)
}

// indirectDigestInput is what the message digest covers: the
// SpcIndirectDataContent's contents without its own tag and length.
func indirectDigestInput(sum []byte) []byte {
	var raw asn1.RawValue
	if _, err := asn1.Unmarshal(indirectData(sum), &raw); err != nil {
		panic(err)
	}
	return raw.Bytes
}

// ErrUnsigned is returned by Verify for an image without a signature.
var ErrUnsigned = errors.New("the image is not signed")

// Verify checks img's signature: that it is over this image's hash and
// made by one of trusted (or a certificate one of them signed). It
// returns the signer's certificate. An image without a signature gives
// ErrUnsigned; a valid signature by anyone else an *UntrustedError.
func Verify(img []byte, trusted []*x509.Certificate) (*x509.Certificate, error) {
	l, err := layout(img)
	if err != nil {
		return nil, err
	}
	if l.certSize == 0 {
		return nil, ErrUnsigned
	}
	table := img[l.certOff:]
	if len(table) < winCertHeader {
		return nil, errors.New("certificate table too short")
	}
	length := int(binary.LittleEndian.Uint32(table))
	if length < winCertHeader || length > len(table) {
		return nil, fmt.Errorf("certificate length %d out of range", length)
	}
	if typ := binary.LittleEndian.Uint16(table[6:]); typ != winCertPKCSSigned {
		return nil, fmt.Errorf("certificate type %#x, want PKCS#7 signed data", typ)
	}
	var ci rawContentInfo
	if _, err := asn1.Unmarshal(table[winCertHeader:length], &ci); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("signature content type %v, want signed data", ci.ContentType)
	}
	p, err := parseSignedData(ci.Content.Bytes)
	if err != nil {
		return nil, err
	}
	if !p.sd.ContentInfo.ContentType.Equal(oidSpcIndirectData) {
		return nil, errors.New("the signature is not an Authenticode signature")
	}
	var indirect asn1.RawValue
	if _, err := asn1.Unmarshal(p.sd.ContentInfo.Content.Bytes, &indirect); err != nil {
		return nil, fmt.Errorf("signed content: %w", err)
	}
	sum, err := l.hash(img)
	if err != nil {
		return nil, err
	}
	if !bytes.HasSuffix(indirect.Bytes, sum) {
		return nil, errors.New("the image was changed after it was signed (its hash is not the signed one)")
	}
	return p.verify(indirect.Bytes, trusted)
}

// Unsign returns img without its signature (an unsigned image as it is).
func Unsign(img []byte) ([]byte, error) {
	l, err := layout(img)
	if err != nil {
		return nil, err
	}
	if l.certSize == 0 {
		return img, nil
	}
	out := append([]byte(nil), img[:l.certOff]...)
	clear(out[l.secDir : l.secDir+8])
	return out, nil
}
