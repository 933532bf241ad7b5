package harness

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// The build cache lives in the repository's build/ directory (ignored by
// git) rather than in per-test temp dirs: the nucbox binary and each image
// are shared by all tests of a run, and images are keyed by the content of
// everything that goes into them, so a later run with the same binary,
// config and kernel boots the same files without building them again.
// $NUCBOX_TEST_CACHE moves it elsewhere.
func cacheDir() (string, error) {
	if d := os.Getenv("NUCBOX_TEST_CACHE"); d != "" {
		d = fromRoot(d)
		return d, os.MkdirAll(d, 0o755)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	d := filepath.Join(root, "build", "test")
	return d, os.MkdirAll(d, 0o755)
}

// CacheDir is a directory named sub in the build cache, created, for files
// a test generates and wants to keep across runs (guest kernels, images).
func CacheDir(tb testing.TB, sub string) string {
	tb.Helper()
	base, err := cacheDir()
	if err != nil {
		tb.Fatal(err)
	}
	d := filepath.Join(base, sub)
	if err := os.MkdirAll(d, 0o755); err != nil {
		tb.Fatal(err)
	}
	return d
}

// imageCacheMaxAge is how long an image nobody booted stays in the cache.
const imageCacheMaxAge = 7 * 24 * time.Hour

// builtBin is one build of the appliance binary, by its extra tags.
type builtBin struct {
	once       sync.Once
	path, hash string
	err        error
}

var bins sync.Map // extra tags -> *builtBin

// Nucbox builds the appliance binary the way the Makefile does (static,
// cgo, netgo/osusergo/seccomp, stripped) once per test process and returns its path.
// Building every run, instead of trusting a binary lying around, is cheap
// with Go's build cache and means a test never boots stale code.
func Nucbox(tb testing.TB) string {
	tb.Helper()
	path, _ := nucboxTagged(tb, "")
	return path
}

// NucboxTagged is Nucbox built with the extra build tags tags as well
// (comma separated), such as panicinject for a binary with injection
// points; it is kept beside the plain one as nucbox-TAGS.
func NucboxTagged(tb testing.TB, tags string) string {
	tb.Helper()
	path, _ := nucboxTagged(tb, tags)
	return path
}

func nucboxTagged(tb testing.TB, tags string) (path, hash string) {
	tb.Helper()
	e, _ := bins.LoadOrStore(tags, &builtBin{})
	b := e.(*builtBin)
	b.once.Do(func() {
		start := time.Now()
		b.path, b.hash, b.err = buildNucbox(tags)
		if b.err == nil {
			logInfo(tb, "built %s in %.1fs", b.path, time.Since(start).Seconds())
		}
	})
	if b.err != nil {
		tb.Fatalf("building nucbox: %v", b.err)
	}
	return b.path, b.hash
}

func buildNucbox(extraTags string) (string, string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", "", err
	}
	cache, err := cacheDir()
	if err != nil {
		return "", "", err
	}
	bin := filepath.Join(cache, "nucbox")
	tags := "netgo,osusergo,seccomp"
	if extraTags != "" {
		bin += "-" + strings.ReplaceAll(extraTags, ",", "-")
		tags += "," + extraTags
	}
	// Built under a temporary name and renamed, so that a concurrent test
	// process never executes a half-written file.
	tmp := fmt.Sprintf("%s.tmp%d", bin, os.Getpid())
	// The flags of the Makefile's build, so that the sizes and memory the
	// benchmark reports are those of the shipped binary.
	cmd := exec.Command("go", "build", "-trimpath", "-tags", tags,
		"-ldflags", "-s -w -extldflags -static -X main.version=test", "-o", tmp, "./cmd/nucbox")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", "", fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	h, err := fileHash(tmp)
	if err != nil {
		return "", "", err
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", "", err
	}
	return bin, h, nil
}

// Image is a bootable kernel and initramfs made by `nucbox image build`.
type Image struct {
	Dir       string
	Kernel    string // OUTDIR/vmlinuz
	Initramfs string // OUTDIR/initramfs.cpio.zst
	// Config is the config file the image was built from.
	Config string
	// BuildLog is the builder's output (progress and sizes).
	BuildLog string
}

// Boot boots the image with o (its Kernel and Initramfs are set from the
// image).
func (img *Image) Boot(tb testing.TB, o Options) *Machine {
	tb.Helper()
	o.Kernel, o.Initramfs = img.Kernel, img.Initramfs
	return Boot(tb, o)
}

// ImageOption changes how BuildImage calls the image builder.
type ImageOption func(*imageConfig)

type imageConfig struct {
	args []string
	tags string
}

// AllowInvalidConfig builds an image whose config does not validate, to
// test how the appliance fails at boot.
func AllowInvalidConfig() ImageOption {
	return BuildArgs("--allow-invalid-config")
}

// Tagged builds the image with NucboxTagged(tags) instead of the plain
// binary: with "panicinject", an image whose boot hangs or panics where
// the kernel command line (NUCBOX_HANG=, NUCBOX_PANIC=) says.
func Tagged(tags string) ImageOption {
	return func(c *imageConfig) { c.tags = tags }
}

// BuildArgs passes extra flags to `nucbox image build`.
func BuildArgs(args ...string) ImageOption {
	return func(c *imageConfig) { c.args = append(c.args, args...) }
}

type imageEntry struct {
	once sync.Once
	img  *Image
	err  error
}

var (
	images    sync.Map // cache key -> *imageEntry
	pruneOnce sync.Once
)

// BuildImage builds (or finds in the cache) the image for a config file.
// A relative config path is taken from the repository root, so tests can
// name examples/basic.yaml; WriteConfig makes a file from inline YAML.
// Tests of one process asking for the same image share one build.
func BuildImage(tb testing.TB, config string, opts ...ImageOption) *Image {
	tb.Helper()
	img, err := buildImage(tb, config, opts...)
	if err != nil {
		tb.Fatalf("image for %s: %v", config, err)
	}
	return img
}

// WebAssets is build/web, the page's viewers that make web-assets fetches
// (the test targets run it first), or "" when it has not been run. Images
// built with it carry the viewers, as make image's do.
func WebAssets() string {
	root, err := RepoRoot()
	if err != nil {
		return ""
	}
	dir := filepath.Join(root, "build", "web")
	if _, err := os.Stat(filepath.Join(dir, "PINS")); err != nil {
		return ""
	}
	return dir
}

func buildImage(tb testing.TB, config string, opts ...ImageOption) (*Image, error) {
	var c imageConfig
	for _, o := range opts {
		o(&c)
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	if web := WebAssets(); web != "" {
		c.args = append(c.args, "--web-assets", web)
	}
	if !filepath.IsAbs(config) {
		config = filepath.Join(root, config)
	}
	cfg, err := os.ReadFile(config)
	if err != nil {
		return nil, err
	}
	k, err := DebianKernel()
	if err != nil {
		return nil, err
	}
	bin, binHash := nucboxTagged(tb, c.tags)
	cache, err := cacheDir()
	if err != nil {
		return nil, err
	}
	kst, err := os.Stat(k.Path)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	fmt.Fprintf(h, "nucbox %s\nkernel %s %d %d\nmodules %s\nargs %q\nname %s\nconfig %d\n",
		binHash, k.Path, kst.Size(), kst.ModTime().UnixNano(), k.Modules, c.args,
		filepath.Base(config), len(cfg))
	h.Write(cfg)
	if web := WebAssets(); web != "" {
		// The pinned versions name the viewers' content.
		pins, _ := os.ReadFile(filepath.Join(web, "PINS"))
		fmt.Fprintf(h, "web %s\n", pins)
	}
	key := hex.EncodeToString(h.Sum(nil))[:20]

	e, _ := images.LoadOrStore(key, &imageEntry{})
	entry := e.(*imageEntry)
	entry.once.Do(func() {
		pruneOnce.Do(func() { pruneImages(filepath.Join(cache, "images")) })
		entry.img, entry.err = cachedImage(tb, filepath.Join(cache, "images", key), bin, config, cfg, k, c.args)
	})
	return entry.img, entry.err
}

func cachedImage(tb testing.TB, dir, bin, config string, cfg []byte, k Kernel, args []string) (*Image, error) {
	img := &Image{
		Dir:       dir,
		Kernel:    filepath.Join(dir, "vmlinuz"),
		Initramfs: filepath.Join(dir, "initramfs.cpio.zst"),
		Config:    filepath.Join(dir, filepath.Base(config)),
	}
	if _, err := os.Stat(img.Initramfs); err == nil {
		if log, err := os.ReadFile(filepath.Join(dir, "build.log")); err == nil {
			img.BuildLog = string(log)
		}
		now := time.Now()
		os.Chtimes(dir, now, now)
		logInfo(tb, "image for %s: cached in %s", filepath.Base(config), dir)
		return img, nil
	}

	tmp := fmt.Sprintf("%s.tmp%d", dir, os.Getpid())
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// The builder sees the config under its own name, which is the name
	// the appliance quotes in its error messages.
	cfgCopy := filepath.Join(tmp, filepath.Base(config))
	if err := os.WriteFile(cfgCopy, cfg, 0o644); err != nil {
		return nil, err
	}
	out := filepath.Join(tmp, "out")
	cmdArgs := append([]string{"image", "build", "--config", cfgCopy, "--kernel", k.Path,
		"--modules", k.Modules, "-o", out}, args...)
	start := time.Now()
	cmd := exec.Command(bin, cmdArgs...)
	output, err := cmd.CombinedOutput()
	log := progressLines(output)
	if err != nil {
		return nil, fmt.Errorf("nucbox %s: %w\n%s", strings.Join(cmdArgs, " "), err, log)
	}
	logInfo(tb, "image for %s built in %.1fs:\n%s", filepath.Base(config), time.Since(start).Seconds(), lastLines(log, 8))
	// Everything the builder wrote: vmlinuz and the initramfs always,
	// and the boot media the args asked for (nucbox.efi, nucbox.img,
	// pxe/).
	outs, err := os.ReadDir(out)
	if err != nil {
		return nil, fmt.Errorf("builder output: %w", err)
	}
	for _, e := range outs {
		if err := os.Rename(filepath.Join(out, e.Name()), filepath.Join(tmp, e.Name())); err != nil {
			return nil, fmt.Errorf("builder output: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "build.log"), []byte(log), 0o644); err != nil {
		return nil, err
	}
	os.RemoveAll(out)
	if err := os.Rename(tmp, dir); err != nil {
		// Another test process built the same image first; its files are
		// equivalent.
		if _, serr := os.Stat(img.Initramfs); serr != nil {
			return nil, err
		}
	}
	img.BuildLog = log
	return img, nil
}

// pruneImages removes images no run has used for a while, so the cache
// does not grow with every change of the binary.
func pruneImages(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue
		}
		age := time.Since(info.ModTime())
		if age > imageCacheMaxAge || (strings.Contains(e.Name(), ".tmp") && age > time.Hour) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// progressLines keeps what a progress display leaves on screen: for each
// line, the text after its last carriage return.
func progressLines(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		if j := strings.LastIndexByte(l, '\r'); j >= 0 {
			l = l[j+1:]
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WriteConfig writes inline YAML to a file named name in a temporary
// directory and returns its path, for tests whose config is part of the
// test rather than an example.
func WriteConfig(tb testing.TB, name, yaml string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// Sizes are an image's sizes in bytes, printed by the boot benchmark.
type Sizes struct {
	Kernel, Initramfs, InitramfsUncompressed int64
}

// Sizes measures the image; the uncompressed size is what the kernel
// unpacks into RAM.
func (img *Image) Sizes() (Sizes, error) {
	return imageSizes(img.Kernel, img.Initramfs)
}

func imageSizes(kernel, initramfs string) (Sizes, error) {
	var s Sizes
	ki, err := os.Stat(kernel)
	if err != nil {
		return s, err
	}
	s.Kernel = ki.Size()
	f, err := os.Open(initramfs)
	if err != nil {
		return s, err
	}
	defer f.Close()
	ii, err := f.Stat()
	if err != nil {
		return s, err
	}
	s.Initramfs = ii.Size()
	s.InitramfsUncompressed, err = uncompressedSize(f)
	return s, err
}

// uncompressedSize handles zstd (what the builder writes) and gzip (what
// tiny test initramfs images use).
func uncompressedSize(r io.ReadSeeker) (int64, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return 0, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	switch {
	case bytes.Equal(magic[:], []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return 0, err
		}
		defer d.Close()
		return io.Copy(io.Discard, d)
	case magic[0] == 0x1f && magic[1] == 0x8b:
		// Concatenated members (several archives appended) are read as
		// one stream, as the kernel does.
		d, err := gzip.NewReader(r)
		if err != nil {
			return 0, err
		}
		defer d.Close()
		return io.Copy(io.Discard, d)
	case string(magic[:]) == "0707":
		return io.Copy(io.Discard, r)
	}
	return 0, errors.New("initramfs: unknown compression")
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
