package image

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/elf"
	"encoding/binary"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/nucbox/nucbox/internal/kmod"
	"github.com/nucbox/nucbox/test/ci"
	"github.com/u-root/u-root/pkg/cpio"
)

// fixtureModulesDir copies the fake modules directory and declares every
// module of kmod's lists that the fixture has no file for as built in, so
// that Build's fixed module lists resolve without real modules and the
// fixture need not change when the lists do.
func fixtureModulesDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "6.1.0-test")
	if err := os.CopyFS(dir, os.DirFS(fixtureModules)); err != nil {
		t.Fatal(err)
	}
	db, err := openModules(dir)
	if err != nil {
		t.Fatal(err)
	}
	var extra strings.Builder
	for _, m := range append(kmod.BaseModules(), kmod.HardwareModules()...) {
		if db.Module(m) == nil && !db.Builtin(m) {
			extra.WriteString("kernel/builtin/" + m + ".ko\n")
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, "modules.builtin"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(extra.String()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// fakeKernel writes a file with just enough of an x86 boot header to carry
// a release string.
func fakeKernel(t *testing.T, release string) string {
	t.Helper()
	b := make([]byte, 0x400)
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x20e:], 0x100) // string at 0x300
	copy(b[0x300:], release+" (test@example) #1 SMP\x00")
	p := filepath.Join(t.TempDir(), "vmlinuz-"+release)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func fixtureOptions(t *testing.T) Options {
	t.Helper()
	return Options{
		Config:     &Baked{Path: "testdata/config.yaml"},
		Kernel:     fakeKernel(t, "6.1.0-test"),
		ModulesDir: fixtureModulesDir(t),
		OutDir:     filepath.Join(t.TempDir(), "out"),
		Init:       "testdata/init",
		Busybox:    "testdata/busybox",
	}
}

// archive is an initramfs read back with u-root's cpio reader.
type archive struct {
	order []string
	recs  map[string]cpio.Record
}

func readArchive(t *testing.T, file string) *archive {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	switch {
	case strings.HasSuffix(file, ".zst"):
		d, err := zstd.NewReader(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if data, err = d.DecodeAll(raw, nil); err != nil {
			t.Fatalf("%s does not decompress: %v", file, err)
		}
	case strings.HasSuffix(file, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			t.Fatalf("%s does not decompress: %v", file, err)
		}
	default:
		t.Fatalf("unknown compression of %s", file)
	}
	return readArchiveBytes(t, file, data)
}

// readArchiveBytes reads an uncompressed newc archive; what names it in
// errors.
func readArchiveBytes(t *testing.T, what string, data []byte) *archive {
	t.Helper()
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(data)))
	if err != nil {
		t.Fatalf("reading %s: %v", what, err)
	}
	a := &archive{recs: make(map[string]cpio.Record)}
	for _, r := range recs {
		if _, dup := a.recs[r.Name]; dup {
			t.Errorf("%s: %s appears twice", what, r.Name)
		}
		a.order = append(a.order, r.Name)
		a.recs[r.Name] = r
	}
	return a
}

func (a *archive) get(t *testing.T, name string) cpio.Record {
	t.Helper()
	r, ok := a.recs[name]
	if !ok {
		t.Fatalf("/%s is not in the archive", name)
	}
	return r
}

func (a *archive) content(t *testing.T, name string) string {
	t.Helper()
	r := a.get(t, name)
	b, err := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// resolve follows symlinks inside the archive, as the kernel would once
// it is unpacked, and returns the record at the end.
func (a *archive) resolve(t *testing.T, name string) cpio.Record {
	t.Helper()
	for range 40 {
		r := a.get(t, name)
		if r.Mode&cpio.S_IFMT != cpio.S_IFLNK {
			return r
		}
		target := a.content(t, name)
		if !path.IsAbs(target) {
			target = path.Join("/", path.Dir(name), target)
		}
		name = strings.TrimPrefix(path.Clean(target), "/")
	}
	t.Fatalf("symlink loop at /%s", name)
	return cpio.Record{}
}

// checkRecords checks what every record of an image must satisfy: each
// parent directory comes first (the kernel's unpacker does not create
// missing parents), fixed owner and time, and no dangling symlinks.
func (a *archive) checkRecords(t *testing.T) {
	t.Helper()
	seen := map[string]bool{}
	for _, n := range a.order {
		if d := path.Dir(n); d != "." && !seen[d] {
			t.Errorf("/%s comes before its directory /%s", n, d)
		}
		seen[n] = true
		r := a.recs[n]
		if r.MTime != 0 || r.UID != 0 || r.GID != 0 {
			t.Errorf("/%s: mtime %d uid %d gid %d, want all zero", n, r.MTime, r.UID, r.GID)
		}
		if r.Mode&cpio.S_IFMT == cpio.S_IFLNK {
			a.resolve(t, n) // fails on a dangling link
		}
	}
}

func TestBuildArchive(t *testing.T) {
	o := fixtureOptions(t)
	o.Modules = []string{"ext4", "nls-iso8859-1"}
	o.CACerts = filepath.Join(t.TempDir(), "ca.crt")
	os.WriteFile(o.CACerts, []byte("not a certificate\n"), 0o644)
	if _, err := Build(context.Background(), o); err == nil || !strings.Contains(err.Error(), "no PEM certificate in it") {
		t.Fatalf("a CA bundle without certificates: %v", err)
	}
	caPEM := testCertPEM(t)
	os.WriteFile(o.CACerts, caPEM, 0o644)
	res, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Initramfs != filepath.Join(o.OutDir, "initramfs.cpio.zst") || res.Kernel != filepath.Join(o.OutDir, "vmlinuz") {
		t.Errorf("outputs %s and %s, want them in %s", res.Kernel, res.Initramfs, o.OutDir)
	}
	kernel, _ := os.ReadFile(o.Kernel)
	if got, _ := os.ReadFile(res.Kernel); !bytes.Equal(got, kernel) {
		t.Error("vmlinuz is not a copy of the kernel")
	}
	if res.KernelVersion != "6.1.0-test" {
		t.Errorf("KernelVersion = %q", res.KernelVersion)
	}
	a := readArchive(t, res.Initramfs)
	if got := a.content(t, "etc/ssl/certs/ca-certificates.crt"); got != string(caPEM) {
		t.Errorf("CA bundle in the image: %q", got)
	}
	if res.Files != len(a.order) {
		t.Errorf("Result.Files = %d, archive has %d records", res.Files, len(a.order))
	}
	fi, _ := os.Stat(res.Initramfs)
	if res.InitramfsBytes != fi.Size() {
		t.Errorf("Result.InitramfsBytes = %d, file has %d", res.InitramfsBytes, fi.Size())
	}

	// Sorted names put every directory before what it contains, and the
	// kernel's unpacker needs each parent to exist before a child.
	if !sort.StringsAreSorted(a.order) {
		t.Error("records are not in sorted order")
	}
	a.checkRecords(t)

	type node struct {
		name         string
		mode         uint64
		rmajor, rmin uint64
	}
	for _, want := range []node{
		{"init", cpio.S_IFREG | 0o755, 0, 0},
		{"dev/console", cpio.S_IFCHR | 0o600, 5, 1},
		{"dev/null", cpio.S_IFCHR | 0o666, 1, 3},
		{"tmp", cpio.S_IFDIR | 0o1777, 0, 0},
		{"root", cpio.S_IFDIR | 0o700, 0, 0},
		{"proc", cpio.S_IFDIR | 0o555, 0, 0},
		{"sys", cpio.S_IFDIR | 0o555, 0, 0},
		{"run", cpio.S_IFDIR | 0o755, 0, 0},
		{"bin/busybox", cpio.S_IFREG | 0o755, 0, 0},
		{"bin/sh", cpio.S_IFLNK | 0o777, 0, 0},
		{"sbin/ip", cpio.S_IFLNK | 0o777, 0, 0},
		{"usr/bin/awk", cpio.S_IFLNK | 0o777, 0, 0},
		{"etc/nucbox/config.yaml", cpio.S_IFREG | 0o644, 0, 0},
	} {
		r := a.get(t, want.name)
		if r.Mode != want.mode || r.Rmajor != want.rmajor || r.Rminor != want.rmin {
			t.Errorf("/%s: mode %#o dev %d,%d; want mode %#o dev %d,%d",
				want.name, r.Mode, r.Rmajor, r.Rminor, want.mode, want.rmajor, want.rmin)
		}
	}
	if got := a.content(t, "init"); got != "fake nucbox init for image tests\n" {
		t.Errorf("/init = %q, want the init binary", got)
	}
	if got := a.content(t, "bin/sh"); got != "/bin/busybox" {
		t.Errorf("/bin/sh -> %q, want /bin/busybox", got)
	}
	if got := a.content(t, "usr/bin/nucbox"); got != "/init" {
		t.Errorf("/usr/bin/nucbox -> %q, want /init (the CLI in the console shell)", got)
	}
	for _, n := range []string{"sbin/poweroff", "sbin/reboot", "sbin/halt"} {
		if got := a.content(t, n); got != "/init" {
			t.Errorf("/%s -> %q, want /init (busybox's signals mean reboot to nucbox)", n, got)
		}
	}
	for _, n := range []string{"sbin/init", "linuxrc"} {
		if _, ok := a.recs[n]; ok {
			t.Errorf("/%s is in the image; a busybox init must not be the kernel's fallback", n)
		}
	}
	cfg, _ := os.ReadFile(o.Config.Path)
	if got := a.content(t, "etc/nucbox/config.yaml"); got != string(cfg) {
		t.Errorf("config in the image = %q, want %q", got, cfg)
	}

	mods := "lib/modules/6.1.0-test/"
	for _, p := range []string{
		"kernel/net/bridge/bridge.ko", "kernel/net/802/stp.ko", "kernel/net/llc/llc.ko",
		"kernel/net/8021q/8021q.ko", "kernel/fs/ext4/ext4.ko", "kernel/crypto/crc32c_generic.ko",
		"kernel/fs/nls/nls_iso8859-1.ko", "kernel/fs/isofs/isofs.ko.xz",
		"modules.dep", "modules.alias", "modules.builtin", "modules.builtin.modinfo", "modules.softdep", "modules.order",
	} {
		a.get(t, mods+p)
	}
	for _, p := range []string{"kernel/drivers/net/wireless/unused.ko", "modules.dep.bin"} {
		if _, ok := a.recs[mods+p]; ok {
			t.Errorf("/%s%s is in the image but was not asked for", mods, p)
		}
	}
	if !strings.Contains(a.content(t, mods+"modules.dep"), "kernel/fs/ext4/ext4.ko: ") {
		t.Error("modules.dep in the image lacks ext4")
	}
	for _, m := range []string{"llc", "stp", "bridge", "ext4", "crc32c_generic", "nls_iso8859_1", "isofs"} {
		found := false
		for _, n := range res.Modules {
			found = found || n == m
		}
		if !found {
			t.Errorf("Result.Modules %v lacks %s", res.Modules, m)
		}
	}
}

func TestBuildBinaryWithLibraries(t *testing.T) {
	bin := ""
	for _, b := range []string{"/usr/bin/true", "/bin/true"} {
		if needsLibraries(b) {
			bin = b
			break
		}
	}
	if bin == "" {
		ci.Missing(t, "no dynamically linked true(1) in /usr/bin or /bin (Debian's coreutils has one)")
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	needed, _ := f.ImportedLibraries()
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, _ := io.ReadAll(p.Open())
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	f.Close()

	o := fixtureOptions(t)
	o.Binaries = []string{bin}
	res, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	a := readArchive(t, res.Initramfs)
	a.checkRecords(t)
	if r := a.resolve(t, strings.TrimPrefix(bin, "/")); r.Mode&0o111 == 0 {
		t.Errorf("%s is not executable in the image: %#o", bin, r.Mode)
	}
	// The loader must be at the exact path the binary names, as a file
	// or a link that ends at one.
	if r := a.resolve(t, strings.TrimPrefix(interp, "/")); r.Mode&cpio.S_IFMT != cpio.S_IFREG {
		t.Errorf("dynamic loader %s resolves to mode %#o", interp, r.Mode)
	}
	for _, lib := range needed {
		found := false
		for _, n := range a.order {
			if path.Base(n) == lib {
				a.resolve(t, n)
				found = true
			}
		}
		if !found {
			t.Errorf("%s needs %s, which is not in the image", bin, lib)
		}
	}
}

func TestBuildFiles(t *testing.T) {
	host := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(host, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// QEMU's firmware directory holds links into other packages' dirs.
	bios := write("seabios/bios-256k.bin", "bios")
	write("qemu/kvmvapic.bin", "vapic")
	if err := os.Symlink("../seabios/bios-256k.bin", filepath.Join(host, "qemu/bios-256k.bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bios, filepath.Join(host, "bios-link")); err != nil {
		t.Fatal(err)
	}
	sh := write("my-sh", "not busybox")

	o := fixtureOptions(t)
	o.Files = map[string]string{
		"/usr/share/qemu":       filepath.Join(host, "qemu"),
		"/opt/bios.bin":         filepath.Join(host, "bios-link"),
		"bin/sh":                sh, // replaces the busybox applet link
		"/etc/../etc/motd.txt/": sh,
	}
	res, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	a := readArchive(t, res.Initramfs)
	a.checkRecords(t)
	for name, want := range map[string]string{
		"usr/share/qemu/bios-256k.bin": "bios",
		"usr/share/qemu/kvmvapic.bin":  "vapic",
		"opt/bios.bin":                 "bios",
		"bin/sh":                       "not busybox",
		"etc/motd.txt":                 "not busybox",
	} {
		if r := a.get(t, name); r.Mode&cpio.S_IFMT != cpio.S_IFREG {
			t.Errorf("/%s has mode %#o, want a regular file with the link target's contents", name, r.Mode)
		}
		if got := a.content(t, name); got != want {
			t.Errorf("/%s = %q, want %q", name, got, want)
		}
	}
}

func TestBuildConflicts(t *testing.T) {
	o := fixtureOptions(t)
	o.Files = map[string]string{"/init": "testdata/config.yaml"}
	_, err := Build(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "/init") || !strings.Contains(err.Error(), "testdata/init") {
		t.Fatalf("Build with a second /init: err = %v, want a conflict naming both sources", err)
	}
}

func TestBuildReproducible(t *testing.T) {
	for _, c := range []string{Zstd, Gzip} {
		t.Run(c, func(t *testing.T) {
			o := fixtureOptions(t)
			o.Compression = c
			o.Modules = []string{"ext4", "r8169"}
			extra := filepath.Join(t.TempDir(), "extra")
			if err := os.WriteFile(extra, []byte("extra file"), 0o644); err != nil {
				t.Fatal(err)
			}
			o.Files = map[string]string{"/a": extra, "/b": "testdata/config.yaml", "/c/d": "testdata/busybox"}
			first, err := Build(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			one, _ := os.ReadFile(first.Initramfs)
			// Host times, inode numbers and output paths must not matter.
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(extra, later, later); err != nil {
				t.Fatal(err)
			}
			o.OutDir = filepath.Join(t.TempDir(), "again")
			second, err := Build(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			two, _ := os.ReadFile(second.Initramfs)
			if !bytes.Equal(one, two) {
				t.Errorf("two builds of the same inputs differ: %d and %d bytes", len(one), len(two))
			}
		})
	}
}

// cancelAfter is a context whose Err turns to Canceled after n calls, to
// stop a build in the middle of writing the archive.
type cancelAfter struct {
	context.Context
	n atomic.Int64
}

func (c *cancelAfter) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func TestBuildFailureLeavesNoOutput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Options)
		ctx    context.Context
		err    string
	}{
		{name: "missing module", change: func(o *Options) { o.Modules = []string{"nosuch_module"} }, err: "nosuch_module"},
		{name: "missing config", change: func(o *Options) { o.Config = &Baked{Path: "testdata/nonexistent.yaml"} }, err: "nonexistent.yaml"},
		{name: "missing kernel", change: func(o *Options) { o.Kernel = "/nonexistent/vmlinuz" }, err: "/nonexistent/vmlinuz"},
		{name: "kernel of another release", change: func(o *Options) { o.Kernel = fakeKernel(t, "6.1.0-other") }, err: "6.1.0-other"},
		{name: "missing busybox", change: func(o *Options) { o.Busybox = "/nonexistent/busybox" }, err: "busybox"},
		{name: "missing binary", change: func(o *Options) { o.Binaries = []string{"/nonexistent/qemu"} }, err: "/nonexistent/qemu"},
		{name: "unknown compression", change: func(o *Options) { o.Compression = "lz4" }, err: "lz4"},
		{name: "missing UKI stub", change: func(o *Options) { o.UKI, o.PXE, o.ConfigURL, o.Stub = true, true, "https://h/c", "/nonexistent/stub" }, err: "/nonexistent/stub"},
		{name: "disk too small", change: func(o *Options) { o.DiskSize = 100 << 20 }, err: "no room"},
		{name: "PXE URL with a space", change: func(o *Options) { o.PXE, o.ConfigURL = true, "http://h/a b" }, err: "spaces"},
		{name: "missing file system tool", change: func(o *Options) { o.FSTools = []string{"/nonexistent/mke2fs"} }, err: "install e2fsprogs"},
		{name: "cancelled while writing", ctx: func() context.Context {
			c := &cancelAfter{Context: context.Background()}
			c.n.Store(20)
			return c
		}(), err: "canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := fixtureOptions(t)
			// An earlier good build must survive a failed one untouched.
			if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
				t.Fatal(err)
			}
			old := filepath.Join(o.OutDir, "initramfs.cpio.zst")
			if err := os.WriteFile(old, []byte("previous image"), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.change != nil {
				tc.change(&o)
			}
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			_, err := Build(ctx, o)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want one containing %q", err, tc.err)
			}
			des, _ := os.ReadDir(o.OutDir)
			for _, de := range des {
				if de.Name() != "initramfs.cpio.zst" {
					t.Errorf("failed build left %s behind", de.Name())
				}
			}
			if b, _ := os.ReadFile(old); string(b) != "previous image" {
				t.Errorf("failed build changed the previous image to %d bytes", len(b))
			}
		})
	}
}

func TestBuildInvalidConfigAllowed(t *testing.T) {
	o := fixtureOptions(t)
	// The command line refuses an invalid config unless asked, and then
	// says why (cmd/nucbox TestBakedConfig); the builder bakes it as it is.
	o.Config = &Baked{Path: "testdata/invalid.yaml", Invalid: "testdata/invalid.yaml:1:1: hostname: required"}
	var out bytes.Buffer
	o.Progress = &out
	res, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(o.Config.Path)
	if got := readArchive(t, res.Initramfs).content(t, "etc/nucbox/config.yaml"); got != string(want) {
		t.Errorf("config in the image = %q, want the invalid file as given", got)
	}
	if !strings.Contains(out.String(), "INVALID") {
		t.Errorf("progress does not say the config is invalid:\n%s", out.String())
	}
}

func TestBuildWithoutConfig(t *testing.T) {
	o := fixtureOptions(t)
	o.Config = nil
	res, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	a := readArchive(t, res.Initramfs)
	if _, ok := a.recs["etc/nucbox/config.yaml"]; ok {
		t.Error("an image built without a config has one")
	}
	a.get(t, "etc/nucbox")
}

func TestCompressionFormats(t *testing.T) {
	for _, c := range []string{Zstd, Gzip} {
		t.Run(c, func(t *testing.T) {
			o := fixtureOptions(t)
			o.Compression = c
			res, err := Build(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			readArchive(t, res.Initramfs) // decompresses and parses
			raw, _ := os.ReadFile(res.Initramfs)
			switch c {
			case Zstd:
				var h zstd.Header
				if err := h.Decode(raw); err != nil {
					t.Fatal(err)
				}
				if h.DictionaryID != 0 {
					t.Errorf("frame uses dictionary %d; the kernel has none", h.DictionaryID)
				}
				if h.WindowSize > zstdWindow {
					t.Errorf("window %d bytes, want at most %d for the kernel's unpacker", h.WindowSize, zstdWindow)
				}
				if !h.HasCheckSum {
					t.Error("frame has no content checksum")
				}
			case Gzip:
				zr, err := gzip.NewReader(bytes.NewReader(raw))
				if err != nil {
					t.Fatal(err)
				}
				if zr.Name != "" || !zr.ModTime.IsZero() {
					t.Errorf("gzip header carries name %q and time %v, which break reproducibility", zr.Name, zr.ModTime)
				}
			}
		})
	}
}

func TestKernelVersion(t *testing.T) {
	k := fakeKernel(t, "6.1.0-99-amd64")
	if v, err := kernelVersion(k); err != nil || v != "6.1.0-99-amd64" {
		t.Errorf("kernelVersion = %q, %v", v, err)
	}
	if _, err := checkKernel(k, "6.1.0-98-amd64"); err == nil || !strings.Contains(err.Error(), "6.1.0-98-amd64") {
		t.Errorf("checkKernel with other modules: err = %v", err)
	}
	// Not a bzImage: nothing to compare, no error.
	if v, err := kernelVersion("testdata/init"); err != nil || v != "" {
		t.Errorf("kernelVersion(non-bzImage) = %q, %v", v, err)
	}
}

func TestProgressOutput(t *testing.T) {
	o := fixtureOptions(t)
	var out bytes.Buffer
	o.Progress = &out
	if _, err := Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[1/6] config", "[3/6] modules", "[6/6] archive", "kernel ", "initramfs ", "uncompressed ", "kernel modules"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "\r") {
		t.Errorf("progress to a non-terminal redraws lines:\n%q", out.String())
	}
}

func TestDebianImage(t *testing.T) {
	kernel, modules := debianModules(t)
	bb := DefaultBusybox
	if _, err := os.Stat(bb); err != nil {
		ci.Missing(t, "no %s (apt-get install busybox-static, part of make deps)", bb)
	}
	o := Options{
		Config: &Baked{Path: "testdata/config.yaml"}, Kernel: kernel, ModulesDir: modules,
		OutDir: t.TempDir(), Init: "testdata/init", Busybox: bb,
	}
	res, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	a := readArchive(t, res.Initramfs)
	a.checkRecords(t)
	base := "lib/modules/" + filepath.Base(modules) + "/"
	for _, m := range res.Modules {
		found := false
		for _, n := range a.order {
			if strings.HasPrefix(n, base+"kernel/") && kmod.Name(n) == m {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("module %s is in Result.Modules but not in the archive", m)
		}
	}
	a.get(t, "bin/busybox")
	a.get(t, "bin/sh")
	t.Logf("kernel %s %s, initramfs %s compressed, %s uncompressed, %d files, %d modules",
		res.KernelVersion, size(res.KernelBytes), size(res.InitramfsBytes), size(res.UncompressedBytes), res.Files, len(res.Modules))
}

func TestNeedsLibraries(t *testing.T) {
	if needsLibraries("testdata/init") || needsLibraries("testdata/busybox") {
		t.Error("a non-ELF file was sent to the dynamic loader")
	}
	if fi, err := os.Stat(DefaultBusybox); err == nil && fi.Mode().IsRegular() && needsLibraries(DefaultBusybox) {
		f, _ := elf.Open(DefaultBusybox)
		if f != nil {
			defer f.Close()
			if libs, _ := f.ImportedLibraries(); len(libs) == 0 {
				t.Errorf("%s is static but was sent to the dynamic loader", DefaultBusybox)
			}
		}
	}
}

// testCertPEM is a self-signed certificate in PEM.
func testCertPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lab CA"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
