package containers

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// tarEntry is one crafted layer entry.
type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func layer(t *testing.T, ents ...tarEntry) *bytes.Reader {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body))}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b.Bytes())
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func TestUnpackFlattenWhiteouts(t *testing.T) {
	root := t.TempDir()
	base := layer(t,
		tarEntry{name: "etc/", typ: tar.TypeDir},
		tarEntry{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\n"},
		tarEntry{name: "etc/gone", body: "x"},
		tarEntry{name: "var/cache/", typ: tar.TypeDir},
		tarEntry{name: "var/cache/a", body: "a"},
		tarEntry{name: "var/cache/b", body: "b"},
		tarEntry{name: "bin/", typ: tar.TypeDir},
		tarEntry{name: "bin/sh", body: "#!", mode: 0o4755},
		tarEntry{name: "bin/link", typ: tar.TypeLink, link: "bin/sh"},
	)
	if err := Unpack(base, root, Flatten); err != nil {
		t.Fatal(err)
	}
	top := layer(t,
		tarEntry{name: "etc/.wh.gone"},
		tarEntry{name: "var/cache/c", body: "c"}, // before the marker: must survive it
		tarEntry{name: "var/cache/.wh..wh..opq"},
	)
	if err := Unpack(top, root, Flatten); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(root, "etc/gone")) {
		t.Error("etc/gone survived its whiteout")
	}
	if exists(filepath.Join(root, "etc/.wh.gone")) {
		t.Error("the whiteout marker itself was written")
	}
	if exists(filepath.Join(root, "var/cache/a")) || exists(filepath.Join(root, "var/cache/b")) {
		t.Error("opaque directory kept the lower layer's files")
	}
	if got := readFile(t, filepath.Join(root, "var/cache/c")); got != "c" {
		t.Errorf("var/cache/c = %q", got)
	}
	fi, err := os.Stat(filepath.Join(root, "bin/sh"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSetuid == 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/sh mode %v, want setuid 0755", fi.Mode())
	}
	li, err := os.Stat(filepath.Join(root, "bin/link"))
	if err != nil || !os.SameFile(fi, li) {
		t.Errorf("bin/link is not a hard link of bin/sh: %v", err)
	}
}

func TestUnpackOverlayWhiteouts(t *testing.T) {
	// Overlay whiteouts are device nodes and trusted xattrs.
	requireRoot(t)
	root := t.TempDir()
	l := layer(t,
		tarEntry{name: "etc/", typ: tar.TypeDir},
		tarEntry{name: "etc/.wh.gone"},
		tarEntry{name: "var/", typ: tar.TypeDir},
		tarEntry{name: "var/.wh..wh..opq"},
	)
	if err := Unpack(l, root, Overlay); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, "etc/gone"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("etc/gone: mode %o rdev %d, want a 0/0 character device", st.Mode, st.Rdev)
	}
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(filepath.Join(root, "var"), "trusted.overlay.opaque", buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("var: trusted.overlay.opaque = %q, %v; want y", buf[:n], err)
	}
}

func TestUnpackDropsOverlayXattrs(t *testing.T) {
	requireRoot(t)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	h := &tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatPAX,
		PAXRecords: map[string]string{"SCHILY.xattr.trusted.overlay.redirect": "/etc", "SCHILY.xattr.user.note": "kept"}}
	if err := tw.WriteHeader(h); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	root := t.TempDir()
	if err := Unpack(&b, root, Overlay); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if _, err := unix.Lgetxattr(filepath.Join(root, "d"), "trusted.overlay.redirect", buf); err == nil {
		t.Error("an image set trusted.overlay.redirect")
	}
	if n, err := unix.Lgetxattr(filepath.Join(root, "d"), "user.note", buf); err != nil || string(buf[:n]) != "kept" {
		t.Logf("user.note: %q, %v (the test filesystem may not support user xattrs)", buf[:n], err)
	}
}

func TestUnpackRefusesEscapes(t *testing.T) {
	for _, tc := range []struct {
		name string
		ents []tarEntry
		// outside is a file in the parent of root that must not appear.
		outside string
		wantErr bool
	}{
		{name: "dotdot name", ents: []tarEntry{{name: "../evil", body: "x"}}, outside: "evil", wantErr: true},
		{name: "dotdot inside name", ents: []tarEntry{{name: "a/../../evil", body: "x"}}, outside: "evil", wantErr: true},
		{name: "absolute name stays inside", ents: []tarEntry{{name: "/abs", body: "x"}}},
		{name: "absolute symlink then write through it", ents: []tarEntry{
			{name: "escape", typ: tar.TypeSymlink, link: "/"},
			{name: "escape/evil", body: "x"},
		}, outside: "evil"},
		{name: "relative symlink climbing out", ents: []tarEntry{
			{name: "up", typ: tar.TypeSymlink, link: "../../../../.."},
			{name: "up/evil", body: "x"},
		}, outside: "evil"},
		{name: "hard link with dotdot", ents: []tarEntry{
			{name: "h", typ: tar.TypeLink, link: "../secret"},
		}, wantErr: true},
		{name: "hard link through an absolute symlink", ents: []tarEntry{
			{name: "s", typ: tar.TypeSymlink, link: "/"},
			{name: "h", typ: tar.TypeLink, link: "s/secret"},
		}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "root")
			secret := filepath.Join(parent, "secret")
			if err := os.WriteFile(secret, []byte("host"), 0o600); err != nil {
				t.Fatal(err)
			}
			err := Unpack(layer(t, tc.ents...), root, Flatten)
			if tc.wantErr && err == nil {
				t.Error("unpacked without error")
			}
			if !tc.wantErr && err != nil {
				t.Errorf("unexpected error: %v", err)
			}
			if tc.outside != "" && exists(filepath.Join(parent, tc.outside)) {
				t.Errorf("%s written outside the root", tc.outside)
			}
			if exists(filepath.Join("/", tc.outside)) && tc.outside == "evil" {
				t.Errorf("/evil written on the host")
			}
			if readFile(t, secret) != "host" {
				t.Error("file outside the root changed")
			}
			if exists(filepath.Join(root, "h")) {
				fi, _ := os.Stat(filepath.Join(root, "h"))
				si, _ := os.Stat(secret)
				if os.SameFile(fi, si) {
					t.Error("hard link to a file outside the root")
				}
			}
		})
	}
}

func TestUnpackAbsoluteSymlinkResolvesInRoot(t *testing.T) {
	root := t.TempDir()
	l := layer(t,
		tarEntry{name: "usr/lib/", typ: tar.TypeDir},
		tarEntry{name: "lib", typ: tar.TypeSymlink, link: "/usr/lib"},
		tarEntry{name: "lib/libc.so", body: "elf"},
	)
	if err := Unpack(l, root, Flatten); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(root, "usr/lib/libc.so")); got != "elf" {
		t.Errorf("usr/lib/libc.so = %q", got)
	}
	if target, _ := os.Readlink(filepath.Join(root, "lib")); target != "/usr/lib" {
		t.Errorf("lib -> %q, want the link text kept", target)
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{"./a/b/": "a/b", "/etc//x": "etc/x", "./": "."} {
		got, err := cleanName(in)
		if err != nil || got != want {
			t.Errorf("cleanName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := cleanName("a/../../b"); !errors.Is(err, errEscape) {
		t.Errorf("a/../../b: %v, want errEscape", err)
	}
}
