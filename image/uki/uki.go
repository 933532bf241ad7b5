package uki

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
)

// Payload section names, as systemd-stub looks them up.
const (
	OSRel   = ".osrel"
	Cmdline = ".cmdline"
	Uname   = ".uname"
	Initrd  = ".initrd"
	Linux   = ".linux"
	// SBAT is the image's Secure Boot Advanced Targeting metadata (CSV
	// lines naming each component and its security generation), read
	// by shim and by firmware that revokes by generation.
	SBAT = ".sbat"
	// Ucode is a CPU microcode cpio that systemd-stub (from 256 on)
	// hands to the kernel ahead of the initramfs; older stubs ignore it.
	Ucode = ".ucode"
)

// stubSBAT is what the stub's own .sbat section is renamed to when the
// image gets one: shim refuses an image with two .sbat sections, and the
// stub's lines are carried over into the image's (see Build).
const stubSBAT = ".sbatstb"

// order is the order payload is laid out in. The kernel goes last, as
// ukify puts it: nothing else then sits in memory right after it.
var order = []string{SBAT, OSRel, Cmdline, Uname, ".splash", ".dtb", ".pcrpkey", ".pcrsig", Ucode, Initrd, Linux}

// isPayload reports whether a section name is one systemd-stub reads as
// payload, which is what tells an image's payload from its stub.
func isPayload(name string) bool {
	for _, n := range order {
		if n == name {
			return true
		}
	}
	return false
}

// Sections is the payload of a unified kernel image. Empty fields are
// left out of the image.
type Sections struct {
	OSRel   []byte // os-release document (see OSRelease)
	Cmdline []byte // kernel command line, without a trailing newline
	Uname   []byte // kernel release, as uname -r prints it
	Initrd  []byte // initramfs, compressed as the kernel reads it
	Linux   []byte // the kernel's EFI-stub bzImage
	// SBAT lines for the image's own components; Build puts the stub's
	// lines before them.
	SBAT []byte
	// Ucode is an uncompressed cpio with kernel/x86/microcode/*.bin.
	Ucode []byte
}

func (s Sections) named() map[string][]byte {
	m := map[string][]byte{}
	for name, b := range map[string][]byte{OSRel: s.OSRel, Cmdline: s.Cmdline, Uname: s.Uname, Initrd: s.Initrd, Linux: s.Linux, SBAT: s.SBAT, Ucode: s.Ucode} {
		if len(b) > 0 {
			m[name] = b
		}
	}
	return m
}

func sectionsFrom(m map[string][]byte) Sections {
	return Sections{OSRel: m[OSRel], Cmdline: m[Cmdline], Uname: m[Uname], Initrd: m[Initrd], Linux: m[Linux], SBAT: m[SBAT], Ucode: m[Ucode]}
}

// Section characteristics (PE/COFF specification).
const (
	scnCntCode            = 0x00000020
	scnCntInitializedData = 0x00000040
	scnMemRead            = 0x40000000
)

const sectionHeaderSize = 40

// Build appends s to the stub (linuxx64.efi.stub) and returns the image.
// A .linux section is required: a stub without a kernel boots nothing.
func Build(stub []byte, s Sections) ([]byte, error) {
	if len(s.Linux) == 0 {
		return nil, errors.New("uki: no kernel (.linux) to put into the image")
	}
	if len(s.SBAT) > 0 {
		own, err := ReadSection(bytes.NewReader(stub), SBAT)
		if err == nil {
			s.SBAT = mergeSBAT(own, s.SBAT)
		}
	}
	return assemble(stub, s.named())
}

// Read returns the payload of an image built by Build (or by ukify).
func Read(data []byte) (Sections, error) {
	_, payload, err := split(data)
	if err != nil {
		return Sections{}, err
	}
	return sectionsFrom(payload), nil
}

// Rewrite replaces or adds payload sections of an existing image and
// returns the new image; the stub's own sections are kept byte for byte.
// A nil value removes that section. Only payload section names are
// accepted: the stub's sections are not this package's to change.
func Rewrite(data []byte, replace map[string][]byte) ([]byte, error) {
	stub, payload, err := split(data)
	if err != nil {
		return nil, err
	}
	for name, b := range replace {
		if !isPayload(name) {
			return nil, fmt.Errorf("uki: %q is not a payload section (one of %v)", name, order)
		}
		if b == nil {
			delete(payload, name)
		} else {
			payload[name] = b
		}
	}
	if len(payload[Linux]) == 0 {
		return nil, errors.New("uki: the rewritten image would have no kernel (.linux)")
	}
	return assemble(stub, payload)
}

// header gives access to the fields of a PE image that assembling needs,
// at their file offsets.
type header struct {
	data     []byte
	coff     int // COFF file header
	opt      int // optional header (PE32+)
	secTable int
	f        *pe.File
	opt64    *pe.OptionalHeader64
}

func parse(data []byte) (*header, error) {
	f, err := pe.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("uki: not a PE image: %w", err)
	}
	o, ok := f.OptionalHeader.(*pe.OptionalHeader64)
	if !ok {
		return nil, errors.New("uki: not a PE32+ (64-bit) image")
	}
	if o.FileAlignment == 0 || o.SectionAlignment == 0 {
		return nil, errors.New("uki: PE image has no file or section alignment")
	}
	peOff := int(binary.LittleEndian.Uint32(data[0x3c:]))
	h := &header{data: data, coff: peOff + 4, f: f, opt64: o}
	h.opt = h.coff + 20
	h.secTable = h.opt + int(f.FileHeader.SizeOfOptionalHeader)
	return h, nil
}

func (h *header) u16(off int) uint16      { return binary.LittleEndian.Uint16(h.data[off:]) }
func (h *header) u32(off int) uint32      { return binary.LittleEndian.Uint32(h.data[off:]) }
func (h *header) put16(off int, v uint16) { binary.LittleEndian.PutUint16(h.data[off:], v) }
func (h *header) put32(off int, v uint32) { binary.LittleEndian.PutUint32(h.data[off:], v) }
func roundUp(n, align uint32) uint32      { return (n + align - 1) / align * align }
func roundUp64(n uint64, align uint32) int {
	return int((n + uint64(align) - 1) / uint64(align) * uint64(align))
}

// Offsets in the PE32+ optional header and the COFF header.
const (
	coffNumberOfSections     = 2
	coffPointerToSymbolTable = 8
	coffNumberOfSymbols      = 12
	optSizeOfInitializedData = 8
	optSizeOfImage           = 56
	optSizeOfHeaders         = 60
	optCheckSum              = 64
	securityDirectory        = 4
)

// imageEnd is the end of the highest section in memory.
func imageEnd(secs []*pe.Section) uint32 {
	var end uint32
	for _, s := range secs {
		if e := s.VirtualAddress + s.VirtualSize; e > end {
			end = e
		}
	}
	return end
}

// assemble lays payload out after the stub's sections.
func assemble(stub []byte, payload map[string][]byte) ([]byte, error) {
	h, err := parse(append([]byte(nil), stub...))
	if err != nil {
		return nil, err
	}
	for _, s := range h.f.Sections {
		if isPayload(s.Name) && s.Name != SBAT {
			return nil, fmt.Errorf("uki: the stub already has a %s section; give the bare stub or use Rewrite", s.Name)
		}
	}
	o := h.opt64
	if int(o.NumberOfRvaAndSizes) > securityDirectory && o.DataDirectory[securityDirectory].VirtualAddress != 0 {
		// Appending sections would invalidate the signature anyway.
		return nil, errors.New("uki: the stub is signed; give an unsigned stub and sign the finished image")
	}
	fa, sa := o.FileAlignment, o.SectionAlignment
	if len(payload[SBAT]) > 0 {
		for i, s := range h.f.Sections {
			if s.Name == SBAT {
				off := h.secTable + i*sectionHeaderSize
				copy(h.data[off:off+8], stubSBAT)
			}
		}
	}

	// A symbol table at the end of the file would end up between the stub
	// and the payload, where nothing describes it; images carry none.
	if sym := h.u32(h.coff + coffPointerToSymbolTable); sym != 0 {
		n := h.u32(h.coff + coffNumberOfSymbols)
		end := uint64(sym) + 18*uint64(n)
		if end+4 <= uint64(len(h.data)) {
			end += uint64(binary.LittleEndian.Uint32(h.data[end:]))
		}
		if end == uint64(len(h.data)) {
			h.data = h.data[:sym]
			h.put32(h.coff+coffPointerToSymbolTable, 0)
			h.put32(h.coff+coffNumberOfSymbols, 0)
		}
	}

	firstRaw := uint32(len(h.data))
	for _, s := range h.f.Sections {
		if s.Size == 0 {
			continue
		}
		if s.Offset%fa != 0 {
			return nil, fmt.Errorf("uki: stub section %s starts at file offset %#x, not a multiple of the file alignment %#x", s.Name, s.Offset, fa)
		}
		firstRaw = min(firstRaw, s.Offset)
	}

	names := make([]string, 0, len(payload))
	for _, n := range order {
		if len(payload[n]) > 0 {
			names = append(names, n)
		}
	}
	nsec := len(h.f.Sections)
	headersEnd := h.secTable + (nsec+len(names))*sectionHeaderSize
	sizeOfHeaders := roundUp(h.u32(h.opt+optSizeOfHeaders), fa)
	if uint32(headersEnd) > sizeOfHeaders || uint32(headersEnd) > firstRaw {
		return nil, fmt.Errorf("uki: no room in the stub's headers for %d more section headers", len(names))
	}
	h.put32(h.opt+optSizeOfHeaders, sizeOfHeaders)

	out := h.data
	va := roundUp(imageEnd(h.f.Sections), sa)
	initData := h.u32(h.opt + optSizeOfInitializedData)
	for i, name := range names {
		b := payload[name]
		if uint64(len(b)) > 1<<32-uint64(sa) || uint64(va)+uint64(len(b)) > 1<<32-uint64(sa) {
			return nil, fmt.Errorf("uki: section %s (%d bytes) does not fit a PE image", name, len(b))
		}
		raw := roundUp64(uint64(len(out)), fa)
		out = append(out, make([]byte, raw-len(out))...)
		out = append(out, b...)
		out = append(out, make([]byte, roundUp64(uint64(len(out)), fa)-len(out))...)

		sh := make([]byte, sectionHeaderSize)
		copy(sh[0:8], name)
		binary.LittleEndian.PutUint32(sh[8:], uint32(len(b)))               // VirtualSize
		binary.LittleEndian.PutUint32(sh[12:], va)                          // VirtualAddress
		binary.LittleEndian.PutUint32(sh[16:], roundUp(uint32(len(b)), fa)) // SizeOfRawData
		binary.LittleEndian.PutUint32(sh[20:], uint32(raw))                 // PointerToRawData
		chars := uint32(scnCntInitializedData | scnMemRead)
		if name == Linux {
			// Kernels started through the EFI handover protocol run
			// in place, from this section.
			chars = scnCntCode | scnMemRead
		}
		binary.LittleEndian.PutUint32(sh[36:], chars)
		copy(out[h.secTable+(nsec+i)*sectionHeaderSize:], sh)

		initData += uint32(len(b))
		va = roundUp(va+uint32(len(b)), sa)
	}
	h.data = out
	h.put16(h.coff+coffNumberOfSections, uint16(nsec+len(names)))
	h.put32(h.opt+optSizeOfInitializedData, initData)
	h.put32(h.opt+optSizeOfImage, va)
	// Firmware does not check it, and a stale one is worse than none.
	h.put32(h.opt+optCheckSum, 0)
	return out, nil
}

// split cuts an image into its stub, as it was before payload was added,
// and the payload sections. Payload must be the image's last sections;
// an image with payload between stub sections was not laid out by Build
// or ukify and is refused rather than guessed at.
func split(data []byte) ([]byte, map[string][]byte, error) {
	h, err := parse(data)
	if err != nil {
		return nil, nil, err
	}
	secs := h.f.Sections
	k := len(secs)
	for k > 0 && isPayload(secs[k-1].Name) {
		k--
	}
	for _, s := range secs[:k] {
		// A stub's own .sbat (systemd's) sits among its sections.
		if isPayload(s.Name) && s.Name != SBAT {
			return nil, nil, fmt.Errorf("uki: payload section %s sits among the stub's sections", s.Name)
		}
	}
	payload := map[string][]byte{}
	if k == len(secs) {
		return append([]byte(nil), data...), payload, nil
	}
	cut := uint32(len(data))
	var size uint32
	for _, s := range secs[k:] {
		if _, dup := payload[s.Name]; dup {
			return nil, nil, fmt.Errorf("uki: two %s sections", s.Name)
		}
		n := min(s.VirtualSize, s.Size)
		if uint64(s.Offset)+uint64(n) > uint64(len(data)) {
			return nil, nil, fmt.Errorf("uki: section %s runs past the end of the file", s.Name)
		}
		payload[s.Name] = append([]byte(nil), data[s.Offset:s.Offset+n]...)
		cut = min(cut, s.Offset)
		size += s.VirtualSize
	}
	// The stub keeps its headers: a payload section that starts inside
	// them (only a crafted file has one) leaves nothing to cut at.
	if end := h.secTable + len(secs)*sectionHeaderSize; end > int(cut) {
		return nil, nil, fmt.Errorf("uki: a payload section starts at %d, inside the headers (which end at %d)", cut, end)
	}
	stub := &header{}
	*stub = *h
	stub.data = append([]byte(nil), data[:cut]...)
	for i := k; i < len(secs); i++ {
		off := h.secTable + i*sectionHeaderSize
		clear(stub.data[off : off+sectionHeaderSize])
	}
	stub.put16(h.coff+coffNumberOfSections, uint16(k))
	stub.put32(h.opt+optSizeOfInitializedData, h.u32(h.opt+optSizeOfInitializedData)-size)
	stub.put32(h.opt+optSizeOfImage, roundUp(imageEnd(secs[:k]), h.opt64.SectionAlignment))
	return stub.data, payload, nil
}

// Names lists an image's section names in file order, for messages and
// tests.
func Names(data []byte) ([]string, error) {
	h, err := parse(data)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range h.f.Sections {
		out = append(out, s.Name)
	}
	return out, nil
}
