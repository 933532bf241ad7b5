package platform

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// debFile is one entry of a test package's data.tar.
type debFile struct {
	name, body, link string
	mode             int64
	typ              byte
}

// makeDeb builds a .deb as dpkg-deb does: an ar archive of
// debian-binary, control.tar.xz and data.tar compressed with comp (xz
// or zst).
func makeDeb(t *testing.T, comp string, files []debFile) []byte {
	t.Helper()
	tarOf := func(files []debFile) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, f := range files {
			h := &tar.Header{Name: f.name, Mode: f.mode, Typeflag: f.typ, Linkname: f.link, Size: int64(len(f.body))}
			if h.Typeflag == 0 {
				h.Typeflag = tar.TypeReg
			}
			if h.Typeflag != tar.TypeReg {
				h.Size = 0
			}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				tw.Write([]byte(f.body))
			}
		}
		tw.Close()
		return b.Bytes()
	}
	compress := func(kind string, data []byte) []byte {
		var b bytes.Buffer
		switch kind {
		case "xz":
			w, err := xz.NewWriter(&b)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(data)
			w.Close()
		case "zst":
			w, err := zstd.NewWriter(&b)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(data)
			w.Close()
		default:
			t.Fatalf("compression %q", kind)
		}
		return b.Bytes()
	}
	var ar bytes.Buffer
	ar.WriteString(arMagic)
	member := func(name string, data []byte) {
		fmt.Fprintf(&ar, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name, 0, 0, 0, "100644", len(data))
		ar.Write(data)
		if len(data)%2 == 1 {
			ar.WriteByte('\n')
		}
	}
	member("debian-binary", []byte("2.0\n"))
	member("control.tar.xz", compress("xz", tarOf([]debFile{{name: "./control", body: "Package: test\n", mode: 0o644}})))
	member("data.tar."+comp, compress(comp, tarOf(files)))
	return ar.Bytes()
}

func TestUnpackDeb(t *testing.T) {
	files := []debFile{
		{name: "./", typ: tar.TypeDir, mode: 0o755},
		{name: "./usr/", typ: tar.TypeDir, mode: 0o755},
		{name: "./usr/bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "./usr/bin/tool", body: "#!/bin/sh\necho hi\n", mode: 0o4755},
		{name: "./usr/share/doc/tool/README", body: "odd-length", mode: 0o644},
		{name: "./usr/bin/tool-link", typ: tar.TypeSymlink, link: "tool"},
		{name: "./lib64/ld.so", typ: tar.TypeSymlink, link: "/usr/bin/tool"},
		{name: "./usr/bin/tool-hard", typ: tar.TypeLink, link: "./usr/bin/tool"},
		{name: "../../escape", body: "kept inside", mode: 0o644},
	}
	for _, comp := range []string{"xz", "zst"} {
		t.Run(comp, func(t *testing.T) {
			dir := t.TempDir()
			if err := Unpack(bytes.NewReader(makeDeb(t, comp, files)), dir); err != nil {
				t.Fatal(err)
			}
			check := func(rel, want string, mode os.FileMode) {
				t.Helper()
				fi, err := os.Stat(filepath.Join(dir, rel))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := os.ReadFile(filepath.Join(dir, rel))
				if string(b) != want || fi.Mode().Perm() != mode {
					t.Errorf("%s: %q mode %v, want %q mode %v", rel, b, fi.Mode().Perm(), want, mode)
				}
				if fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
					t.Errorf("%s: set-id bit kept", rel)
				}
			}
			check("usr/bin/tool", "#!/bin/sh\necho hi\n", 0o755)
			check("usr/bin/tool-hard", "#!/bin/sh\necho hi\n", 0o755)
			check("usr/share/doc/tool/README", "odd-length", 0o644)
			check("escape", "kept inside", 0o644)
			for rel, want := range map[string]string{"usr/bin/tool-link": "tool", "lib64/ld.so": "/usr/bin/tool"} {
				if got, err := os.Readlink(filepath.Join(dir, rel)); err != nil || got != want {
					t.Errorf("%s: link %q, %v; want %q", rel, got, err, want)
				}
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(dir), "escape")); err == nil {
				t.Error("../../escape was written outside the root")
			}
		})
	}
}

// TestUnpackRefusesWritingThroughLink: a package that makes a symlink to
// a host directory and then a file under it must not write there.
func TestUnpackRefusesWritingThroughLink(t *testing.T) {
	outside := t.TempDir()
	dir := t.TempDir()
	deb := makeDeb(t, "xz", []debFile{
		{name: "./etc", typ: tar.TypeSymlink, link: outside},
		{name: "./etc/passwd", body: "x", mode: 0o644},
	})
	err := Unpack(bytes.NewReader(deb), dir)
	if err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("err = %v, want a refusal to write through the link", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "passwd")); err == nil {
		t.Fatal("a file was written through the link")
	}
	// Positive control: without the link the same file lands in the root.
	if err := Unpack(bytes.NewReader(makeDeb(t, "xz", []debFile{{name: "./etc/passwd", body: "x", mode: 0o644}})), t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

func TestUnpackNotADeb(t *testing.T) {
	if err := Unpack(strings.NewReader("PK\x03\x04 a zip"), t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a .deb") {
		t.Fatalf("err = %v", err)
	}
}
