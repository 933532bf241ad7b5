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

// fakeArchive serves Release and Packages.xz for the default suites'
// Components from stanzas given per suite: "bookworm" is its main,
// "bookworm/non-free-firmware" that component.
func fakeArchive(t *testing.T, suites map[string]string, corrupt string) *httptest.Server {
	t.Helper()
	files := map[string][]byte{}
	for _, s := range DefaultSuites {
		base := "/" + s.Archive + "/dists/" + s.Name + "/"
		release := fmt.Sprintf("Suite: %s\nVersion: 12\nDate: today\nSHA256:\n", s.Name)
		for _, comp := range Components {
			key := s.Name
			if comp != "main" {
				key += "/" + comp
			}
			var xb bytes.Buffer
			w, _ := xz.NewWriter(&xb)
			w.Write([]byte(suites[key]))
			w.Close()
			sum := sha256.Sum256(xb.Bytes())
			if key == corrupt {
				sum[0] ^= 1
			}
			file := comp + "/binary-amd64/Packages.xz"
			files[base+file] = xb.Bytes()
			release += fmt.Sprintf(" %x %d %s\n", sum, xb.Len(), file)
		}
		files[base+"Release"] = []byte(release)
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
	return componentStanza("main", name, version, deps)
}

func componentStanza(comp, name, version, deps string) string {
	return fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nDepends: %s\nFilename: pool/%s/%s_%s.deb\nSize: 10\nSHA256: %064x\n\n",
		name, version, deps, comp, name, version, len(name+version))
}

func TestGenerate(t *testing.T) {
	main := packageStanza("linux-image-amd64", "6.1.1", "linux-image-6.1.0-9-amd64 (= 6.1.1)") +
		packageStanza("linux-image-6.1.0-9-amd64", "6.1.1", "kmod, linux-base") +
		packageStanza("qemu-system-x86", "1:7.2-1", "libc6 (>= 2.34), libglib2.0-0, debconf | debconf-2.0, virtual-lib") +
		packageStanza("libc6", "2.36-9", "libgcc-s1") +
		packageStanza("libgcc-s1", "12.2", "") +
		packageStanza("libglib2.0-0", "2.74-1", "libc6") +
		"Package: real-lib\nVersion: 1\nArchitecture: amd64\nProvides: virtual-lib\nFilename: pool/main/real-lib_1.deb\nSize: 5\nSHA256: " + strings.Repeat("ab", 32) + "\n\n"
	firmware := componentStanza("non-free-firmware", "intel-microcode", "3.20250812.1", "iucode-tool (>= 1.0)") +
		componentStanza("non-free-firmware", "amd64-microcode", "3.20250311.1", "")
	for _, r := range roots {
		if r.name != "qemu-system-x86" && !strings.HasSuffix(r.name, "-microcode") {
			main += packageStanza(r.name, "1.0", "")
		}
	}
	security := packageStanza("libc6", "2.36-9+deb12u14", "libgcc-s1")
	// A newer intel-microcode in the security suite's non-free-firmware
	// wins over bookworm's, as for libc6 in main.
	securityFirmware := "Package: intel-microcode\nVersion: 3.20251111.1\nArchitecture: amd64\nDepends: iucode-tool (>= 1.0)\n" +
		"Filename: pool/updates/non-free-firmware/i/intel-microcode/intel-microcode_3.20251111.1_amd64.deb\nSize: 12\nSHA256: " + strings.Repeat("cd", 32) + "\n\n"
	archive := map[string]string{"bookworm": main, "bookworm/non-free-firmware": firmware, "bookworm-security": security,
		"bookworm-security/non-free-firmware": securityFirmware}
	srv := fakeArchive(t, archive, "")
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
	if p := got["intel-microcode"]; p.Version != "3.20251111.1" || p.Archive != "debian-security" || p.Component() != "non-free-firmware" {
		t.Errorf("intel-microcode %+v (component %q): want the security update from non-free-firmware", p, p.Component())
	}
	if p := got["amd64-microcode"]; p.Component() != "non-free-firmware" {
		t.Errorf("amd64-microcode %+v (component %q): want non-free-firmware", p, p.Component())
	}
	if p := got["libc6"]; p.Component() != "main" {
		t.Errorf("libc6 component %q, want main", p.Component())
	}
	for _, not := range []string{"debconf", "kmod", "linux-base", "linux-image-amd64", "iucode-tool"} {
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
	for _, corrupt := range []string{"bookworm-updates", "bookworm-security/non-free-firmware"} {
		bad := fakeArchive(t, archive, corrupt)
		if _, _, err := Generate(context.Background(), nil, bad.URL); err == nil || !strings.Contains(err.Error(), "but Release says") {
			t.Fatalf("corrupt index %s: err = %v", corrupt, err)
		}
	}
	// A dependency nobody provides is an error naming who needs it.
	broken := strings.Replace(main, "libc6 (>= 2.34)", "libmissing1", 1)
	srv2 := fakeArchive(t, map[string]string{"bookworm": broken, "bookworm/non-free-firmware": firmware}, "")
	if _, _, err := Generate(context.Background(), nil, srv2.URL); err == nil || !strings.Contains(err.Error(), "qemu-system-x86: the archive has no package libmissing1") {
		t.Fatalf("missing dependency: err = %v", err)
	}
}
