package image

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/nucbox/nucbox/internal/kmod"
)

// openModules reads the kernel's module database. Unlike the box, which
// boots from an image that may have no modules at all, a build needs a
// real modules directory.
func openModules(dir string) (*kmod.DB, error) {
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("kernel modules: %w (is %s a /lib/modules/<version> directory?)", err, dir)
	}
	f.Close()
	return kmod.Open(dir)
}

// addModules puts the set's module files and the depmod metadata, trimmed
// to the modules present, under /lib/modules/<version>.
func addModules(t *tree, db *kmod.DB, set *kmod.Set) error {
	base := path.Join("lib/modules", db.Release())
	for _, m := range set.Modules {
		// Compressed modules (.ko.xz, .ko.zst) are copied as they are:
		// recompressing would change nothing, and the loader has to
		// handle them either way.
		if err := t.hostFile(path.Join(base, m.Path), filepath.Join(db.Dir(), m.Path), 0o644, "kernel module "+m.Name); err != nil {
			return err
		}
	}
	if err := t.dir(base, 0o755, "kernel modules"); err != nil {
		return err
	}
	for _, f := range kmod.WholeMetadata() {
		src := filepath.Join(db.Dir(), f)
		if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := t.hostFile(path.Join(base, f), src, 0o644, "kernel modules"); err != nil {
			return err
		}
	}
	for _, f := range kmod.TrimmedMetadata() {
		data, err := os.ReadFile(filepath.Join(db.Dir(), f))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := t.generated(path.Join(base, f), set.Trim(f, data), 0o644, "kernel modules"); err != nil {
			return err
		}
	}
	return nil
}

// uniqueNames drops empty and repeated names (comparing them as the
// kernel does) and keeps the first spelling and the order of the rest.
func uniqueNames(names []string) []string {
	seen := make(map[string]bool)
	var out []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || seen[kmod.Name(n)] {
			continue
		}
		seen[kmod.Name(n)] = true
		out = append(out, n)
	}
	return out
}
