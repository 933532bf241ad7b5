package platform

import (
	"bytes"
	"strings"
	"testing"
)

const goodLock = `# test lock
kernel 6.1.0-57-amd64
deb busybox-static 1:1.35.0-4+deb12u1+b1 amd64 debian pool/main/b/busybox/busybox-static_1.35.0-4+deb12u1+b1_amd64.deb 928188 3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744
deb ca-certificates 20250419~deb12u2 all debian-security pool/updates/main/c/ca-certificates/ca-certificates_20250419~deb12u2_all.deb 160948 b9f76b5271a7ac373fd5e7e1b5b826a71ddd702b42a0d104955ecb1acfffc94b
`

func TestParseLock(t *testing.T) {
	l, err := Parse("test.lock", []byte(goodLock))
	if err != nil {
		t.Fatal(err)
	}
	if l.Kernel != "6.1.0-57-amd64" || len(l.Packages) != 2 {
		t.Fatalf("parsed %+v", l)
	}
	p := l.Packages[1]
	if p.Name != "ca-certificates" || p.Archive != "debian-security" || p.Size != 160948 || p.Line != 4 {
		t.Errorf("second package %+v", p)
	}
	if got := p.URL("http://mirror.example/"); got != "http://mirror.example/debian-security/pool/updates/main/c/ca-certificates/ca-certificates_20250419~deb12u2_all.deb" {
		t.Errorf("URL %s", got)
	}
	// Format and Parse round-trip.
	var b bytes.Buffer
	if err := l.Format(&b, []string{"header"}); err != nil {
		t.Fatal(err)
	}
	again, err := Parse("again", b.Bytes())
	if err != nil || len(again.Packages) != 2 || again.Packages[0] != withLine(l.Packages[0], 3) {
		t.Fatalf("round trip: %v %+v", err, again)
	}
}

func withLine(p Package, n int) Package { p.Line = n; return p }

func TestParseLockErrors(t *testing.T) {
	line := strings.Split(goodLock, "\n")[2]
	f := strings.Fields(line)
	with := func(i int, v string) string {
		g := append([]string(nil), f...)
		g[i] = v
		return "kernel 6.1.0-57-amd64\n" + strings.Join(g, " ") + "\n"
	}
	for _, c := range []struct{ lock, want string }{
		{with(7, strings.Repeat("z", 64)), "x.lock:2: sha256: "},
		{with(7, "abc"), "x.lock:2: sha256: \"abc\" is not 64"},
		{with(6, "-5"), "x.lock:2: size: \"-5\""},
		{with(5, "pool/../../etc/passwd.deb"), "x.lock:2: pool path: "},
		{with(4, "ubuntu"), "x.lock:2: archive: \"ubuntu\""},
		{with(3, "arm64"), "x.lock:2: arch: \"arm64\""},
		{with(2, "1.0 bad"), "x.lock:2: deb: want 7 fields"},
		{with(1, "Busybox"), "x.lock:2: name: \"Busybox\""},
		{"kernel 6.1.0-57-amd64\n" + line + "\n" + line + "\n", "x.lock:3: name: package busybox-static is already pinned on line 2"},
		{line + "\n", "x.lock: no kernel line"},
		{"kernel 6.1\nkernel 6.2\n", "x.lock:2: kernel: given twice"},
		{"kernel 6.1.0-57-amd64\n", "x.lock: no deb lines"},
		{"kernel 6.1.0-57-amd64\nrpm foo\n", "x.lock:2: keyword: unknown \"rpm\""},
	} {
		_, err := Parse("x.lock", []byte(c.lock))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("lock %q: err = %v, want %q", c.lock, err, c.want)
		}
	}
}

// TestEmbeddedLock checks the lock in the binary: it parses, pins the
// kernel package of its kernel line, and covers everything the image
// build takes from it.
func TestEmbeddedLock(t *testing.T) {
	l, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	comp := map[string]string{}
	for _, p := range l.Packages {
		have[p.Name] = true
		comp[p.Name] = p.Component()
	}
	for _, r := range append([]root{{"linux-image-" + l.Kernel, false}}, roots...) {
		if !have[r.name] {
			t.Errorf("%s pins no %s", LockName, r.name)
		}
	}
	// The microcode comes from non-free-firmware, everything else from
	// main; iucode-tool, which only the packages' initramfs hooks run,
	// stays out.
	for _, p := range l.Packages {
		want := "main"
		if p.Name == "intel-microcode" || p.Name == "amd64-microcode" {
			want = "non-free-firmware"
		}
		if comp[p.Name] != want {
			t.Errorf("%s:%d: %s is in component %q, want %s", LockName, p.Line, p.Name, comp[p.Name], want)
		}
	}
	if have["iucode-tool"] {
		t.Errorf("%s pins iucode-tool, which only the microcode packages' initramfs hooks run", LockName)
	}
	for _, lib := range []string{"libc6", "libglib2.0-0", "libext2fs2"} {
		if !have[lib] {
			t.Errorf("%s lacks %s, which QEMU or e2fsprogs links", LockName, lib)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0},
		{"1.0", "1.1", -1},
		{"1.10", "1.9", 1},
		{"1:1.0", "2.0", 1},
		{"1.0~rc1", "1.0", -1},
		{"1.0-1", "1.0-1+b1", -1},
		{"1:7.2+dfsg-7+deb12u18+b3", "1:7.2+dfsg-7+deb12u15", 1},
		{"20250419~deb12u2", "20230311+deb12u1", 1},
		{"2.36-9+deb12u14", "2.36-9+deb12u9", 1},
		{"1.0a", "1.0+", -1},
	} {
		if got := compareVersions(c.a, c.b); got != c.want {
			t.Errorf("compare(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := compareVersions(c.b, c.a); got != -c.want {
			t.Errorf("compare(%s, %s) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}
