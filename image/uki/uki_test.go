package uki

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/test/ci"
)

// DebianStub is the systemd-boot-efi stub the product ships.
const debianStub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"

// fakeStub builds a minimal PE32+ EFI application with two sections, a
// section alignment larger than its file alignment (as most stubs have),
// and header room for a few more sections.
func fakeStub(t testing.TB) []byte {
	t.Helper()
	const (
		fileAlign = 0x200
		secAlign  = 0x1000
	)
	b := make([]byte, 0x800)
	copy(b, "MZ")
	binary.LittleEndian.PutUint32(b[0x3c:], 0x40)
	copy(b[0x40:], "PE\x00\x00")
	coff := 0x44
	binary.LittleEndian.PutUint16(b[coff:], 0x8664)
	binary.LittleEndian.PutUint16(b[coff+2:], 2)
	binary.LittleEndian.PutUint16(b[coff+16:], 240)
	binary.LittleEndian.PutUint16(b[coff+18:], 0x206)
	opt := coff + 20
	binary.LittleEndian.PutUint16(b[opt:], 0x20b)
	binary.LittleEndian.PutUint32(b[opt+4:], 0x200)   // SizeOfCode
	binary.LittleEndian.PutUint32(b[opt+8:], 0x180)   // SizeOfInitializedData
	binary.LittleEndian.PutUint32(b[opt+16:], 0x1000) // AddressOfEntryPoint
	binary.LittleEndian.PutUint32(b[opt+32:], secAlign)
	binary.LittleEndian.PutUint32(b[opt+36:], fileAlign)
	binary.LittleEndian.PutUint32(b[opt+56:], 0x3000) // SizeOfImage
	binary.LittleEndian.PutUint32(b[opt+60:], 0x400)  // SizeOfHeaders
	binary.LittleEndian.PutUint16(b[opt+68:], 10)     // EFI application
	binary.LittleEndian.PutUint32(b[opt+108:], 16)
	sec := opt + 240
	put := func(i int, name string, vsize, va, rawSize, raw, chars uint32) {
		s := b[sec+i*40:]
		copy(s, name)
		binary.LittleEndian.PutUint32(s[8:], vsize)
		binary.LittleEndian.PutUint32(s[12:], va)
		binary.LittleEndian.PutUint32(s[16:], rawSize)
		binary.LittleEndian.PutUint32(s[20:], raw)
		binary.LittleEndian.PutUint32(s[36:], chars)
	}
	put(0, ".text", 0x200, 0x1000, 0x200, 0x400, 0x60000020)
	put(1, ".data", 0x180, 0x2000, 0x200, 0x600, 0xc0000040)
	for i := 0x400; i < 0x800; i++ {
		b[i] = byte(i)
	}
	return b
}

func stubs(t *testing.T) map[string][]byte {
	m := map[string][]byte{"synthetic": fakeStub(t)}
	if b, err := os.ReadFile(debianStub); err == nil {
		m["debian"] = b
	} else if ci.Enforced() {
		t.Fatalf("%v: CI must install systemd-boot-efi", err)
	} else {
		t.Logf("only the synthetic stub: %v", err)
	}
	return m
}

func testSections() Sections {
	linux := bytes.Repeat([]byte("kernel"), 100001)
	initrd := bytes.Repeat([]byte{0xa5, 0x5a, 0x00}, 33333)
	return Sections{
		OSRel:   NewOSRelease("v1.2.3", 1).Bytes(),
		Cmdline: []byte("console=ttyS0,115200 panic=10"),
		Uname:   []byte("6.1.0-56-amd64"),
		Initrd:  initrd,
		Linux:   linux,
	}
}

func TestBuildLayout(t *testing.T) {
	for name, stub := range stubs(t) {
		t.Run(name, func(t *testing.T) {
			s := testSections()
			img, err := Build(stub, s)
			if err != nil {
				t.Fatal(err)
			}
			checkLayout(t, stub, img, s.named())
		})
	}
}

// checkLayout parses img independently of the package's own code and
// checks what firmware and systemd-stub rely on.
func checkLayout(t *testing.T, stub, img []byte, want map[string][]byte) {
	t.Helper()
	sf, err := pe.NewFile(bytes.NewReader(stub))
	if err != nil {
		t.Fatal(err)
	}
	f, err := pe.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("image does not parse: %v", err)
	}
	o := f.OptionalHeader.(*pe.OptionalHeader64)
	so := sf.OptionalHeader.(*pe.OptionalHeader64)
	if o.AddressOfEntryPoint != so.AddressOfEntryPoint || o.SectionAlignment != so.SectionAlignment || o.FileAlignment != so.FileAlignment {
		t.Errorf("entry point or alignment changed")
	}
	if len(f.Sections) != len(sf.Sections)+len(want) {
		t.Fatalf("%d sections, want %d stub + %d payload", len(f.Sections), len(sf.Sections), len(want))
	}
	var stubEnd uint32
	for i, s := range sf.Sections {
		got := f.Sections[i]
		if got.SectionHeader != s.SectionHeader {
			t.Errorf("stub section %s header changed: %+v -> %+v", s.Name, s.SectionHeader, got.SectionHeader)
		}
		a, _ := s.Data()
		b, _ := got.Data()
		if !bytes.Equal(a, b) {
			t.Errorf("stub section %s contents changed", s.Name)
		}
		stubEnd = max(stubEnd, s.VirtualAddress+s.VirtualSize)
	}
	prevEnd := stubEnd
	var lastEnd uint32
	seen := map[string]bool{}
	for _, s := range f.Sections[len(sf.Sections):] {
		w, ok := want[s.Name]
		if !ok || seen[s.Name] {
			t.Errorf("unexpected or repeated section %s", s.Name)
			continue
		}
		seen[s.Name] = true
		if s.VirtualAddress%o.SectionAlignment != 0 {
			t.Errorf("%s at %#x, not aligned to %#x", s.Name, s.VirtualAddress, o.SectionAlignment)
		}
		if s.Offset%o.FileAlignment != 0 || s.Size%o.FileAlignment != 0 {
			t.Errorf("%s raw data at %#x+%#x, not aligned to %#x", s.Name, s.Offset, s.Size, o.FileAlignment)
		}
		if s.VirtualAddress < prevEnd {
			t.Errorf("%s at %#x overlaps what ends at %#x", s.Name, s.VirtualAddress, prevEnd)
		}
		if int(s.VirtualSize) != len(w) {
			t.Errorf("%s VirtualSize %d, want %d", s.Name, s.VirtualSize, len(w))
		}
		d, err := s.Data()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(d[:s.VirtualSize], w) {
			t.Errorf("%s contents differ", s.Name)
		}
		if s.Characteristics&scnMemRead == 0 {
			t.Errorf("%s not readable", s.Name)
		}
		prevEnd = s.VirtualAddress + s.VirtualSize
		lastEnd = prevEnd
	}
	for n := range want {
		if !seen[n] {
			t.Errorf("section %s missing", n)
		}
	}
	if wantSize := roundUp(lastEnd, o.SectionAlignment); o.SizeOfImage != wantSize {
		t.Errorf("SizeOfImage %#x, want %#x", o.SizeOfImage, wantSize)
	}
	if o.SizeOfHeaders%o.FileAlignment != 0 {
		t.Errorf("SizeOfHeaders %#x not aligned", o.SizeOfHeaders)
	}
}

func TestReadAndRewrite(t *testing.T) {
	for name, stub := range stubs(t) {
		t.Run(name, func(t *testing.T) {
			s := testSections()
			img, err := Build(stub, s)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Read(img)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Linux, s.Linux) || !bytes.Equal(got.Initrd, s.Initrd) || string(got.OSRel) != string(s.OSRel) ||
				string(got.Cmdline) != string(s.Cmdline) || string(got.Uname) != string(s.Uname) {
				t.Fatal("Read does not return what Build was given")
			}
			sec, err := ReadSection(bytes.NewReader(img), OSRel)
			if err != nil || string(sec) != string(s.OSRel) {
				t.Fatalf("ReadSection(.osrel) = %q, %v; want %q", sec, err, s.OSRel)
			}
			if _, err := ReadSection(bytes.NewReader(img), ".splash"); err == nil {
				t.Error("ReadSection of a section the image lacks did not fail")
			}

			same, err := Rewrite(img, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(same, img) {
				t.Error("rewriting with no changes changed the image")
			}

			osrel := NewOSRelease("v1.2.4", 2).Bytes()
			up, err := Rewrite(img, map[string][]byte{OSRel: osrel})
			if err != nil {
				t.Fatal(err)
			}
			want := s.named()
			want[OSRel] = osrel
			checkLayout(t, stub, up, want)
			back, err := Read(up)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back.Linux, s.Linux) || !bytes.Equal(back.Initrd, s.Initrd) {
				t.Error("rewriting .osrel changed the kernel or initrd")
			}
			rel, err := ParseOSRelease(back.OSRel)
			if err != nil || rel.ImageVersion != 2 || rel.VersionID != "v1.2.4" {
				t.Errorf("rewritten os-release = %+v, %v", rel, err)
			}

			// A smaller kernel and no .uname: the layout follows.
			small, err := Rewrite(up, map[string][]byte{Linux: []byte("tiny"), Uname: nil})
			if err != nil {
				t.Fatal(err)
			}
			want[Linux] = []byte("tiny")
			delete(want, Uname)
			checkLayout(t, stub, small, want)
		})
	}
}

func TestErrors(t *testing.T) {
	stub := fakeStub(t)
	img, err := Build(stub, testSections())
	if err != nil {
		t.Fatal(err)
	}
	signed := fakeStub(t)
	binary.LittleEndian.PutUint32(signed[0x58+112+4*8:], 0x800)
	tests := []struct {
		name string
		fn   func() error
		want string
	}{
		{"no kernel", func() error { _, err := Build(stub, Sections{OSRel: []byte("ID=x\n")}); return err }, "no kernel"},
		{"not PE", func() error { _, err := Build([]byte("not a PE file at all, just text"), testSections()); return err }, "not a PE"},
		{"signed stub", func() error { _, err := Build(signed, testSections()); return err }, "signed"},
		{"stub is an image", func() error { _, err := Build(img, testSections()); return err }, "already has"},
		{"stub section", func() error { _, err := Rewrite(img, map[string][]byte{".text": {1}}); return err }, "not a payload"},
		{"drop kernel", func() error { _, err := Rewrite(img, map[string][]byte{Linux: nil}); return err }, "no kernel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.fn()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestNoHeaderRoom(t *testing.T) {
	stub := fakeStub(t)
	// Claim headers end where the section table does: no room left.
	binary.LittleEndian.PutUint32(stub[0x58+60:], 0x200)
	binary.LittleEndian.PutUint32(stub[0x148+20:], 0x200) // .text raw data right after the table
	if _, err := Build(stub, testSections()); err == nil || !strings.Contains(err.Error(), "no room") {
		t.Errorf("error %v, want no room", err)
	}
}

func TestOSRelease(t *testing.T) {
	tests := []struct {
		in   OSRelease
		want string
	}{
		{NewOSRelease("v1.0.0", 1), "ID=nucbox\nNAME=nucbox\nPRETTY_NAME=\"nucbox v1.0.0\"\nVERSION_ID=v1.0.0\nIMAGE_VERSION=1\n"},
		{NewOSRelease("0.3-4-gabc-dirty", 12), "ID=nucbox\nNAME=nucbox\nPRETTY_NAME=\"nucbox 0.3-4-gabc-dirty\"\nVERSION_ID=0.3-4-gabc-dirty\nIMAGE_VERSION=12\n"},
		{OSRelease{ID: "x", Name: `a "b" $c`}, "ID=x\nNAME=\"a \\\"b\\\" \\$c\"\nPRETTY_NAME=\"a \\\"b\\\" \\$c\"\n"},
	}
	for _, tt := range tests {
		got := string(tt.in.Bytes())
		if got != tt.want {
			t.Errorf("Bytes() =\n%s\nwant\n%s", got, tt.want)
		}
		back, err := ParseOSRelease([]byte(got))
		if err != nil {
			t.Fatal(err)
		}
		if tt.in.PrettyName == "" {
			back.PrettyName = ""
		}
		if back != tt.in {
			t.Errorf("round trip %+v -> %+v", tt.in, back)
		}
	}
	if _, err := ParseOSRelease([]byte("IMAGE_VERSION=two\n")); err == nil {
		t.Error("a non-numeric IMAGE_VERSION was accepted")
	}
}
