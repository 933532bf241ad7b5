package uki

import (
	"bytes"
	"testing"
)

// FuzzRead: the upgrade path reads an image uploaded to the API (Read,
// ParseOSRelease) and rewrites its .osrel (Rewrite). On any input that
// is an error or a result, never a panic; an image that reads rewrites
// to one that reads back with the new .osrel and the same kernel.
func FuzzRead(f *testing.F) {
	small := Sections{OSRel: NewOSRelease("v1", 1).Bytes(), Cmdline: []byte("console=ttyS0"), Initrd: []byte("initrd"), Linux: []byte("kernel")}
	img, err := Build(fakeStub(f), small)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(img)
	f.Add(fakeStub(f))
	f.Add([]byte("MZ"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := Names(data); err != nil {
			return
		}
		secs, err := Read(data)
		if err != nil {
			return
		}
		ParseOSRelease(secs.OSRel)
		osrel := NewOSRelease("v2", 2).Bytes()
		out, err := Rewrite(data, map[string][]byte{OSRel: osrel})
		if err != nil {
			return
		}
		back, err := Read(out)
		if err != nil {
			t.Fatalf("a rewritten image does not read back: %v", err)
		}
		if !bytes.Equal(back.OSRel, osrel) || !bytes.Equal(back.Linux, secs.Linux) || !bytes.Equal(back.Initrd, secs.Initrd) {
			t.Fatalf("rewritten image reads back as %q/%d/%d bytes, want the new .osrel and the same kernel and initrd", back.OSRel, len(back.Linux), len(back.Initrd))
		}
	})
}
