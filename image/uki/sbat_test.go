package uki

import (
	"bytes"
	"strings"
	"testing"
)

func TestSBATAndUcode(t *testing.T) {
	own := SBATLine("nucbox", 1, "nucbox", "nucbox", "v1,2", "https://example.org/nucbox")
	if string(own) != "nucbox,1,nucbox,nucbox,v1 2,https://example.org/nucbox\n" {
		t.Fatalf("SBAT line %q", own)
	}
	ucode := []byte("070701 microcode cpio")
	for name, stub := range stubs(t) {
		t.Run(name, func(t *testing.T) {
			s := testSections()
			s.SBAT, s.Ucode = own, ucode
			img, err := Build(stub, s)
			if err != nil {
				t.Fatal(err)
			}
			names, _ := Names(img)
			count := map[string]int{}
			for _, n := range names {
				count[n]++
			}
			if count[SBAT] != 1 || count[Ucode] != 1 {
				t.Fatalf("sections %v: want one .sbat and one .ucode", names)
			}
			got, err := ReadSection(bytes.NewReader(img), SBAT)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasSuffix(got, own) || bytes.Contains(got, []byte{0}) {
				t.Fatalf(".sbat %q does not end with the image's line", got)
			}
			if name == "debian" {
				// systemd's lines are carried over from the stub's .sbat,
				// which no longer goes by that name.
				if !strings.HasPrefix(string(got), "sbat,1,") || !strings.Contains(string(got), "\nsystemd,1,") || count[stubSBAT] != 1 {
					t.Fatalf(".sbat %q, sections %v: the stub's SBAT is not merged", got, names)
				}
			}
			r, err := Read(img)
			if err != nil || !bytes.Equal(r.Ucode, ucode) || !bytes.Equal(r.SBAT, got) {
				t.Fatalf("Read: ucode %q sbat %q (%v)", r.Ucode, r.SBAT, err)
			}
			// An upgrade rewrites .osrel; SBAT and microcode stay.
			re, err := Rewrite(img, map[string][]byte{OSRel: NewOSRelease("v2", 2).Bytes()})
			if err != nil {
				t.Fatal(err)
			}
			r2, err := Read(re)
			if err != nil || !bytes.Equal(r2.Ucode, ucode) || !bytes.Equal(r2.SBAT, got) {
				t.Fatalf("after Rewrite: ucode %q sbat %q (%v)", r2.Ucode, r2.SBAT, err)
			}
			// Without SBAT the stub keeps its own section as it was.
			plain, err := Build(stub, testSections())
			if err != nil {
				t.Fatal(err)
			}
			pn, _ := Names(plain)
			for _, n := range pn {
				if n == stubSBAT || n == Ucode {
					t.Fatalf("image without SBAT/microcode has %s: %v", n, pn)
				}
			}
		})
	}
}
