package platform

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

// fakeArchive serves Release and Packages.xz for the default suites from
// stanzas given per suite.
func fakeArchive(t *testing.T, suites map[string]string, corrupt string) *httptest.Server {
	t.Helper()
	files := map[string][]byte{}
	for _, s := range DefaultSuites {
		var xb bytes.Buffer
		w, _ := xz.NewWriter(&xb)
		w.Write([]byte(suites[s.Name]))
		w.Close()
		base := "/" + s.Archive + "/dists/" + s.Name + "/"
		sum := sha256.Sum256(xb.Bytes())
		if s.Name == corrupt {
			sum[0] ^= 1
		}
		files[base+"main/binary-amd64/Packages.xz"] = xb.Bytes()
		files[base+"Release"] = []byte(fmt.Sprintf("Suite: %s\nVersion: 12\nDate: today\nSHA256:\n %x %d main/binary-amd64/Packages.xz\n", s.Name, sum, xb.Len()))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, ok := files[r.URL.Path]; ok {
			w.Write(b)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func packageStanza(name, version, deps string) string {
	return fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nDepends: %s\nFilename: pool/main/%s_%s.deb\nSize: 10\nSHA256: %064x\n\n",
		name, version, deps, name, version, len(name+version))
}

func TestGenerate(t *testing.T) {
	main := packageStanza("linux-image-amd64", "6.1.1", "linux-image-6.1.0-9-amd64 (= 6.1.1)") +
		packageStanza("linux-image-6.1.0-9-amd64", "6.1.1", "kmod, linux-base") +
		packageStanza("qemu-system-x86", "1:7.2-1", "libc6 (>= 2.34), libglib2.0-0, debconf | debconf-2.0, virtual-lib") +
		packageStanza("libc6", "2.36-9", "libgcc-s1") +
		packageStanza("libgcc-s1", "12.2", "") +
		packageStanza("libglib2.0-0", "2.74-1", "libc6") +
		"Package: real-lib\nVersion: 1\nArchitecture: amd64\nProvides: virtual-lib\nFilename: pool/main/real-lib_1.deb\nSize: 5\nSHA256: " + strings.Repeat("ab", 32) + "\n\n"
	for _, r := range roots {
		if r.name != "qemu-system-x86" {
			main += packageStanza(r.name, "1.0", "")
		}
	}
	security := packageStanza("libc6", "2.36-9+deb12u14", "libgcc-s1")
	srv := fakeArchive(t, map[string]string{"bookworm": main, "bookworm-security": security}, "")
	l, header, err := Generate(context.Background(), nil, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Package{}
	for _, p := range l.Packages {
		got[p.Name] = p
	}
	if l.Kernel != "6.1.0-9-amd64" || got["linux-image-6.1.0-9-amd64"].Version != "6.1.1" {
		t.Errorf("kernel %s, packages %v", l.Kernel, got)
	}
	if p := got["libc6"]; p.Version != "2.36-9+deb12u14" || p.Archive != "debian-security" {
		t.Errorf("libc6 %+v: want the newer security update", p)
	}
	for _, want := range []string{"libglib2.0-0", "libgcc-s1", "real-lib", "busybox-static", "ca-certificates"} {
		if _, ok := got[want]; !ok {
			t.Errorf("%s missing from the lock", want)
		}
	}
	for _, not := range []string{"debconf", "kmod", "linux-base", "linux-image-amd64"} {
		if _, ok := got[not]; ok {
			t.Errorf("%s is in the lock: the platform runs no maintainer scripts", not)
		}
	}
	if !strings.Contains(strings.Join(header, "\n"), "debian-security/bookworm-security") {
		t.Errorf("header does not name the suites: %v", header)
	}
	// What Generate writes, Parse reads.
	var b bytes.Buffer
	l.Format(&b, header)
	if _, err := Parse("generated", b.Bytes()); err != nil {
		t.Fatal(err)
	}

	// An index whose hash differs from its Release is refused.
	bad := fakeArchive(t, map[string]string{"bookworm": main, "bookworm-security": security}, "bookworm-updates")
	if _, _, err := Generate(context.Background(), nil, bad.URL); err == nil || !strings.Contains(err.Error(), "but Release says") {
		t.Fatalf("corrupt index: err = %v", err)
	}
	// A dependency nobody provides is an error naming who needs it.
	broken := strings.Replace(main, "libc6 (>= 2.34)", "libmissing1", 1)
	srv2 := fakeArchive(t, map[string]string{"bookworm": broken}, "")
	if _, _, err := Generate(context.Background(), nil, srv2.URL); err == nil || !strings.Contains(err.Error(), "qemu-system-x86: the archive has no package libmissing1") {
		t.Fatalf("missing dependency: err = %v", err)
	}
}
