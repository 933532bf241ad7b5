package platform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nucbox/nucbox/image/depmod"
)

// Options say where a platform comes from and where it is kept.
type Options struct {
	// Lock is the platform; nil means Embedded().
	Lock *Lock
	// Mirror is the URL holding debian/ and debian-security/; empty
	// means DefaultMirror().
	Mirror string
	// Cache is the directory for .deb files and unpacked trees; empty
	// means DefaultCache().
	Cache string
	// Progress receives a line per phase and, on a terminal, a download
	// bar. Nil means quiet.
	Progress io.Writer
	// Client fetches; nil means a client with a 10-minute timeout.
	Client *http.Client
}

func (o Options) printf(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format, args...)
	}
}

// Root is an unpacked platform.
type Root struct {
	// Dir is the tree the packages were unpacked into, standing for /.
	Dir  string
	Lock *Lock
	// Fetched is how many bytes this call downloaded (0 from the cache).
	Fetched int64
}

// Kernel is the kernel image's path in the tree.
func (r *Root) Kernel() string { return filepath.Join(r.Dir, "boot", "vmlinuz-"+r.Lock.Kernel) }

// ModulesDir is the kernel's modules directory in the tree.
func (r *Root) ModulesDir() string {
	return filepath.Join(r.Dir, "lib", "modules", r.Lock.Kernel)
}

// Version is the pinned version of the named package, "" when it is not
// in the lock.
func (r *Root) Version(name string) string {
	for _, p := range r.Lock.Packages {
		if p.Name == name {
			return p.Version
		}
	}
	return ""
}

// DefaultCache is $XDG_CACHE_HOME/nucbox/platform (~/.cache/nucbox/platform).
func DefaultCache() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the platform (%w): give --cache", err)
	}
	return filepath.Join(d, "nucbox", "platform"), nil
}

// completeName marks a tree that was unpacked to the end.
const completeName = ".nucbox-platform"

// CABundle is where the tree's CA bundle is made, the path Go reads on
// Linux; update-ca-certificates would make it at install time.
const CABundle = "etc/ssl/certs/ca-certificates.crt"

// Ensure returns the unpacked platform of o.Lock, fetching and unpacking
// what the cache does not have yet.
func Ensure(ctx context.Context, o Options) (*Root, error) {
	if o.Lock == nil {
		l, err := Embedded()
		if err != nil {
			return nil, err
		}
		o.Lock = l
	}
	if o.Mirror == "" {
		o.Mirror = DefaultMirror()
	}
	if o.Cache == "" {
		c, err := DefaultCache()
		if err != nil {
			return nil, err
		}
		o.Cache = c
	}
	abs, err := filepath.Abs(o.Cache)
	if err != nil {
		return nil, err
	}
	o.Cache = abs
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Minute}
	}
	r := &Root{Dir: filepath.Join(o.Cache, "roots", o.Lock.Hash[:16]), Lock: o.Lock}
	if marker, err := os.ReadFile(filepath.Join(r.Dir, completeName)); err == nil && strings.TrimSpace(string(marker)) == o.Lock.Hash {
		return r, nil
	}
	debDir := filepath.Join(o.Cache, "debs")
	if err := os.MkdirAll(debDir, 0o755); err != nil {
		return nil, err
	}
	n, err := fetchAll(ctx, o, debDir)
	if err != nil {
		return nil, err
	}
	r.Fetched = n
	start := time.Now()
	if err := os.MkdirAll(filepath.Dir(r.Dir), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(r.Dir), ".unpack-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// Readable by every user, like the packages' own files: one cache
	// can serve builds by other users (CI runs them as nobody).
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	for _, p := range o.Lock.Packages {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := unpackFile(filepath.Join(debDir, debName(p)), tmp); err != nil {
			return nil, fmt.Errorf("unpacking %s: %w", p.ID(), err)
		}
	}
	if err := finishTree(tmp, o.Lock.Kernel); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, completeName), []byte(o.Lock.Hash+"\n"), 0o644); err != nil {
		return nil, err
	}
	os.RemoveAll(r.Dir) // an incomplete tree of an older run
	if err := os.Rename(tmp, r.Dir); err != nil {
		if _, serr := os.Stat(filepath.Join(r.Dir, completeName)); serr != nil {
			return nil, err
		}
		// Another build unpacked the same lock at the same time.
	}
	o.printf("platform: %d packages unpacked in %.1fs into %s\n", len(o.Lock.Packages), time.Since(start).Seconds(), r.Dir)
	return r, nil
}

func unpackFile(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	return Unpack(f, dir)
}

// finishTree does what the maintainer scripts would have done that the
// image needs: the kernel's module indexes and the CA bundle.
func finishTree(dir, kernel string) error {
	mods := filepath.Join(dir, "lib", "modules", kernel)
	if _, err := os.Stat(mods); err != nil {
		return fmt.Errorf("the lock's kernel %s has no modules directory in its package: %w", kernel, err)
	}
	if err := depmod.Write(mods); err != nil {
		return fmt.Errorf("module indexes for %s: %w", kernel, err)
	}
	return writeCABundle(dir)
}

// writeCABundle concatenates the Mozilla certificates ca-certificates
// ships, in name order, as update-ca-certificates does with its default
// configuration (every certificate enabled).
func writeCABundle(dir string) error {
	certs, err := filepath.Glob(filepath.Join(dir, "usr/share/ca-certificates/mozilla/*.crt"))
	if err != nil {
		return err
	}
	if len(certs) == 0 {
		return errors.New("ca-certificates unpacked no certificates under /usr/share/ca-certificates/mozilla")
	}
	sort.Strings(certs)
	var b bytes.Buffer
	for _, c := range certs {
		data, err := os.ReadFile(c)
		if err != nil {
			return err
		}
		b.Write(data)
		if !bytes.HasSuffix(data, []byte("\n")) {
			b.WriteByte('\n')
		}
	}
	dst := filepath.Join(dir, CABundle)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b.Bytes(), 0o644)
}
