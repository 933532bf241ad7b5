package platform

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nucbox/nucbox/image/internal/bar"
)

// debName is the cached file's name, as apt names it (the epoch's colon
// escaped).
func debName(p Package) string {
	return strings.ReplaceAll(fmt.Sprintf("%s_%s_%s.deb", p.Name, p.Version, p.Arch), ":", "%3a")
}

// URL is where the package lies on mirror.
func (p Package) URL(mirror string) string {
	return strings.TrimRight(mirror, "/") + "/" + p.Archive + "/" + p.Pool
}

// verifyFile checks a cached .deb against the lock; a file that does not
// match is removed so that the next fetch replaces it.
func verifyFile(file string, p Package) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	return match(p, n, hex.EncodeToString(h.Sum(nil)), file)
}

// match is the one place that compares a file with its pin, so every
// path (cache, download) refuses a mismatch with the same words.
func match(p Package, size int64, sum, from string) error {
	if size != p.Size || sum != p.SHA256 {
		return &MismatchError{Package: p, From: from, Size: size, SHA256: sum}
	}
	return nil
}

// MismatchError is a .deb whose bytes are not what the lock pins.
type MismatchError struct {
	Package Package
	From    string
	Size    int64
	SHA256  string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("package %s from %s: got %d bytes with sha256 %s, but the lock (line %d) pins %d bytes with sha256 %s; refusing it",
		e.Package.ID(), e.From, e.Size, e.SHA256, e.Package.Line, e.Package.Size, e.Package.SHA256)
}

// download fetches p into dir/debName(p), hashing as it writes; the file
// appears only when it matches the lock.
func download(ctx context.Context, client *http.Client, mirror, dir string, p Package, progress io.Writer) error {
	url := p.URL(mirror)
	resp, err := get(ctx, client, url)
	if err != nil {
		return fmt.Errorf("package %s: %w", p.ID(), err)
	}
	defer resp.Body.Close()
	f, err := os.CreateTemp(dir, ".fetch-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	h := sha256.New()
	// A server that sends more than the pinned size is cut off there:
	// the hash then fails without filling the disk.
	n, err := io.Copy(io.MultiWriter(f, h, progress), io.LimitReader(resp.Body, p.Size+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("package %s from %s: %w", p.ID(), url, err)
	}
	if err := match(p, n, hex.EncodeToString(h.Sum(nil)), url); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, debName(p)))
}

// fetchAll makes sure every package of the lock is in debDir, verified,
// and returns how many bytes it downloaded.
func fetchAll(ctx context.Context, o Options, debDir string) (int64, error) {
	var missing []Package
	var total int64
	for _, p := range o.Lock.Packages {
		file := filepath.Join(debDir, debName(p))
		err := verifyFile(file, p)
		if err == nil {
			continue
		}
		var mm *MismatchError
		if errors.As(err, &mm) {
			// A damaged or stale cache entry: fetch it again.
			os.Remove(file)
		} else if !errors.Is(err, os.ErrNotExist) {
			return 0, err
		}
		missing = append(missing, p)
		total += p.Size
	}
	if len(missing) == 0 {
		return 0, nil
	}
	start := time.Now()
	o.printf("platform: fetching %d of %d packages (%s) from %s\n", len(missing), len(o.Lock.Packages), bar.Size(total), o.Mirror)
	w, done := bar.New(o.Progress, "platform: download", total)
	defer done()
	for _, p := range missing {
		if err := download(ctx, o.Client, o.Mirror, debDir, p, w); err != nil {
			return 0, err
		}
	}
	done()
	secs := time.Since(start).Seconds()
	o.printf("platform: fetched %s in %.1fs (%.1f MiB/s), every sha256 as %s pins it\n",
		bar.Size(total), secs, float64(total)/(1<<20)/max(secs, 0.001), o.Lock.Source)
	return total, nil
}
