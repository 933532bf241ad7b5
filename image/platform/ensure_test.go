package platform

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

const testKernel = "6.1.0-99-amd64"

// testMirror serves two packages made in the test, as the archive lays
// them out, and returns the lock that pins them. serve maps pool paths to
// the bytes actually served, so a test can tamper with one.
type testMirror struct {
	srv   *httptest.Server
	lock  *Lock
	serve map[string][]byte
	hits  atomic.Int32
}

func newTestMirror(t *testing.T) *testMirror {
	t.Helper()
	m := &testMirror{serve: map[string][]byte{}}
	debs := []struct {
		name, archive string
		files         []debFile
	}{
		{"linux-image-" + testKernel, "debian-security", []debFile{
			{name: "./boot/vmlinuz-" + testKernel, body: "not really a kernel", mode: 0o644},
			{name: "./lib/modules/" + testKernel + "/modules.order", body: "", mode: 0o644},
			{name: "./lib/modules/" + testKernel + "/modules.builtin", body: "kernel/net/packet/af_packet.ko\n", mode: 0o644},
		}},
		{"ca-certificates", "debian", []debFile{
			{name: "./usr/share/ca-certificates/mozilla/B.crt", body: "-----B-----\n", mode: 0o644},
			{name: "./usr/share/ca-certificates/mozilla/A.crt", body: "-----A-----", mode: 0o644},
		}},
	}
	var lock strings.Builder
	fmt.Fprintf(&lock, "kernel %s\n", testKernel)
	for i, d := range debs {
		data := makeDeb(t, []string{"xz", "zst"}[i%2], d.files)
		pool := fmt.Sprintf("pool/main/t/%s/%s_1.0-1_amd64.deb", d.name, d.name)
		m.serve["/"+d.archive+"/"+pool] = data
		sum := sha256.Sum256(data)
		fmt.Fprintf(&lock, "deb %s 1.0-1 amd64 %s %s %d %s\n", d.name, d.archive, pool, len(data), hex.EncodeToString(sum[:]))
	}
	l, err := Parse("test.lock", []byte(lock.String()))
	if err != nil {
		t.Fatal(err)
	}
	m.lock = l
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.hits.Add(1)
		b, ok := m.serve[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *testMirror) options(cache string) Options {
	return Options{Lock: m.lock, Mirror: m.srv.URL, Cache: cache}
}

func TestEnsureFetchesVerifiesUnpacks(t *testing.T) {
	m := newTestMirror(t)
	cache := t.TempDir()
	var log strings.Builder
	o := m.options(cache)
	o.Progress = &log
	r, err := Ensure(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(r.Kernel()); err != nil || string(b) != "not really a kernel" {
		t.Fatalf("kernel: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(r.ModulesDir(), "modules.dep")); err != nil {
		t.Errorf("no modules.dep made: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(r.Dir, CABundle)); err != nil || string(b) != "-----A-----\n-----B-----\n" {
		t.Errorf("CA bundle %q, %v; want A then B, each ending in a newline", b, err)
	}
	if !strings.Contains(log.String(), "fetching 2 of 2 packages") || !strings.Contains(log.String(), "unpacked") {
		t.Errorf("progress:\n%s", log.String())
	}
	if r.Fetched == 0 {
		t.Error("Fetched = 0 on the first run")
	}

	// Again with the mirror gone: the cache answers.
	hits := m.hits.Load()
	m.srv.Close()
	again, err := Ensure(context.Background(), m.options(cache))
	if err != nil || again.Dir != r.Dir || again.Fetched != 0 || m.hits.Load() != hits {
		t.Fatalf("second Ensure: %v, %+v, %d requests", err, again, m.hits.Load()-hits)
	}
}

func TestEnsureRefetchesDamagedCache(t *testing.T) {
	m := newTestMirror(t)
	cache := t.TempDir()
	if _, err := Ensure(context.Background(), m.options(cache)); err != nil {
		t.Fatal(err)
	}
	// A damaged .deb and no unpacked tree: the next run fetches that one
	// package again instead of trusting or refusing the cache.
	p := m.lock.Packages[0]
	if err := os.WriteFile(filepath.Join(cache, "debs", debName(p)), []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(cache, "roots"))
	hits := m.hits.Load()
	r, err := Ensure(context.Background(), m.options(cache))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.hits.Load() - hits; got != 1 || r.Fetched != p.Size {
		t.Errorf("%d requests, %d bytes fetched; want the one damaged package", got, r.Fetched)
	}
}

// TestEnsureRefusesHashMismatch serves one package with other bytes than
// the lock pins: the build stops with an error naming that package, and
// neither the file nor an unpacked tree is left in the cache.
func TestEnsureRefusesHashMismatch(t *testing.T) {
	m := newTestMirror(t)
	bad := m.lock.Packages[1]
	for _, tamper := range []struct {
		name string
		f    func([]byte) []byte
	}{
		{"one byte changed", func(b []byte) []byte { c := append([]byte(nil), b...); c[len(c)-1] ^= 1; return c }},
		{"longer", func(b []byte) []byte { return append(append([]byte(nil), b...), "extra"...) }},
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }},
	} {
		t.Run(tamper.name, func(t *testing.T) {
			key := "/" + bad.Archive + "/" + bad.Pool
			orig := m.serve[key]
			m.serve[key] = tamper.f(orig)
			defer func() { m.serve[key] = orig }()
			cache := t.TempDir()
			_, err := Ensure(context.Background(), m.options(cache))
			var mm *MismatchError
			if !errors.As(err, &mm) || mm.Package.Name != bad.Name {
				t.Fatalf("err = %v, want a mismatch of %s", err, bad.Name)
			}
			for _, w := range []string{bad.ID(), "refusing", "line 3", bad.SHA256} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if _, err := os.Stat(filepath.Join(cache, "debs", debName(bad))); err == nil {
				t.Error("the refused .deb was kept in the cache")
			}
			if des, _ := os.ReadDir(filepath.Join(cache, "roots")); len(des) != 0 {
				t.Errorf("something was unpacked: %v", des)
			}
		})
	}
	// Positive control: the untampered mirror passes with the same lock.
	if _, err := Ensure(context.Background(), m.options(t.TempDir())); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureUnreachableMirror(t *testing.T) {
	m := newTestMirror(t)
	o := m.options(t.TempDir())
	o.Mirror = m.srv.URL + "/nowhere"
	_, err := Ensure(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), m.lock.Packages[0].ID()) {
		t.Fatalf("err = %v, want a 404 naming the package", err)
	}
}

// TestEnsureCacheReadableByAll: a cache filled by one user serves builds
// by others, so the tree and the packages are world-readable.
func TestEnsureCacheReadableByAll(t *testing.T) {
	m := newTestMirror(t)
	cache := t.TempDir()
	r, err := Ensure(context.Background(), m.options(cache))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{r.Dir, filepath.Join(r.Dir, completeName), filepath.Join(cache, "debs", debName(m.lock.Packages[0])), r.Kernel()} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o004 == 0 {
			t.Errorf("%s is %v: not readable by other users", p, fi.Mode().Perm())
		}
	}
}
