package containers

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// Whiteout markers of the OCI image layer format.
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// UnpackMode says how a layer's deletions are recorded.
type UnpackMode int

const (
	// Overlay keeps each layer in its own directory for overlayfs:
	// deletions become overlay whiteouts (0/0 character devices) and
	// opaque directories get trusted.overlay.opaque=y, so the layer can be
	// stacked under others without copying them.
	Overlay UnpackMode = iota
	// Flatten applies the layer onto a directory that already holds the
	// layers below it: deletions remove files. For kernels without
	// overlayfs and for inspecting images.
	Flatten
)

// Unpack extracts one uncompressed layer tar into root, within
// DefaultLayerLimits. Every path is resolved inside root, also through
// symlinks the image itself contains (an absolute symlink points at
// root's top, not at the host's), so no entry can write outside root;
// entries whose names leave root with "..", whiteouts of ".", ".." or
// nothing, and hard links to outside are refused. Ownership, modes, times
// and extended attributes are kept when running as root.
func Unpack(r io.Reader, root string, mode UnpackMode) error {
	return DefaultLayerLimits.unpack(r, root, mode)
}

func (lim LayerLimits) unpack(r io.Reader, root string, mode UnpackMode) error {
	lim = lim.withDefaults()
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	u := &unpacker{root: root, mode: mode, chown: os.Geteuid() == 0, seen: map[string]bool{}, lim: lim}
	if u.reserve, err = lim.reserveOn(root); err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read layer: %w", err)
		}
		if err := u.entry(h, tr); err != nil {
			return fmt.Errorf("layer entry %q: %w", h.Name, err)
		}
	}
	// Directory times last: creating their children changed them. A
	// later entry may have replaced a parent of d with a symlink; the
	// path then leads elsewhere, maybe out of root, and is skipped.
	for _, d := range u.dirs {
		if rel, err := filepath.Rel(root, d.path); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		} else if p, err := securejoin.SecureJoin(root, rel); err != nil || p != d.path {
			continue
		}
		_ = unix.UtimesNanoAt(unix.AT_FDCWD, d.path, []unix.Timespec{unix.NsecToTimespec(d.atime.UnixNano()), unix.NsecToTimespec(d.mtime.UnixNano())}, unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

type unpacker struct {
	root  string
	mode  UnpackMode
	chown bool
	dirs  []dirTimes
	lim   LayerLimits
	// bytes and entries are what the layer has claimed so far: file
	// sizes as their headers declare them (a sparse file counts whole).
	bytes, entries int64
	reserve        int64 // bytes to leave free on root's filesystem
	// seen holds the paths this layer wrote, which an opaque marker
	// (placed anywhere in the tar) must not remove when flattening.
	seen map[string]bool
}

type dirTimes struct {
	path         string
	atime, mtime time.Time
}

// errEscape is wrapped by every refusal of a path leaving the root.
var errEscape = errors.New("path escapes the root")

// errBadWhiteout is a whiteout of "", "." or "..": deleting it would
// delete the directory holding it, or its parent.
var errBadWhiteout = errors.New("malformed whiteout")

// inside reports whether p, a clean absolute path, lies below root.
func inside(root, p string) bool {
	return strings.HasPrefix(p, root+"/")
}

// cleanName turns an entry name into a clean relative path, refusing
// names that climb out of the root. Leading slashes are dropped as tar
// does: "/etc/passwd" in a layer means the image's /etc/passwd.
func cleanName(name string) (string, error) {
	n := strings.TrimLeft(filepath.ToSlash(name), "/")
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", fmt.Errorf("%q: %w", name, errEscape)
		}
	}
	n = path.Clean(n)
	if n == "." || n == "" {
		return ".", nil
	}
	return n, nil
}

// resolveParent returns the host path of name's parent directory,
// following symlinks but never leaving the root, and name's last element.
func (u *unpacker) resolveParent(name string) (string, string, error) {
	dir, base := path.Split(name)
	p, err := securejoin.SecureJoin(u.root, dir)
	if err != nil {
		return "", "", err
	}
	if err := mkdirAllIn(u.root, p); err != nil {
		return "", "", err
	}
	return p, base, nil
}

// mkdirAllIn creates p (already resolved inside root) and its missing
// parents; a parent that exists as something other than a directory is
// an error rather than a place to follow.
func mkdirAllIn(root, p string) error {
	if fi, err := os.Lstat(p); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", strings.TrimPrefix(p, root))
		}
		return nil
	}
	return os.MkdirAll(p, 0o755)
}

func (u *unpacker) entry(h *tar.Header, r io.Reader) error {
	if err := u.charge(h); err != nil {
		return err
	}
	name, err := cleanName(h.Name)
	if err != nil {
		return err
	}
	if name == "." {
		if h.Typeflag == tar.TypeDir {
			return u.attrs(u.root, h)
		}
		return nil
	}
	parent, base, err := u.resolveParent(name)
	if err != nil {
		return err
	}
	target := filepath.Join(parent, base)
	if !inside(u.root, target) {
		return fmt.Errorf("%q: %w", h.Name, errEscape)
	}

	switch {
	case base == whiteoutOpaque:
		return u.opaque(parent)
	case strings.HasPrefix(base, whiteoutMeta):
		// aufs's own bookkeeping (.wh..wh.plnk, .wh..wh.aufs), which
		// old docker images carry: not a file of the image.
		return nil
	case strings.HasPrefix(base, whiteoutPrefix):
		hidden := strings.TrimPrefix(base, whiteoutPrefix)
		if hidden == "" || hidden == "." || hidden == ".." {
			return fmt.Errorf("whiteout %q names no file: %w", h.Name, errBadWhiteout)
		}
		return u.whiteout(filepath.Join(parent, hidden))
	}

	// An existing directory stays when the entry is a directory too (its
	// contents from lower entries are kept); anything else is replaced.
	if fi, err := os.Lstat(target); err == nil {
		if !(fi.IsDir() && h.Typeflag == tar.TypeDir) {
			if err := os.RemoveAll(target); err != nil {
				return err
			}
		}
	}

	u.seen[target] = true
	mode := uint32(h.Mode & 0o7777)
	switch h.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(target, 0o700); err != nil && !os.IsExist(err) {
			return err
		}
	case tar.TypeReg, tar.TypeRegA:
		f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		// The link text is kept as written: it is resolved inside the
		// container at run time, and by securejoin while unpacking.
		if err := os.Symlink(h.Linkname, target); err != nil {
			return err
		}
	case tar.TypeLink:
		ln, err := cleanName(h.Linkname)
		if err != nil {
			return fmt.Errorf("hard link to %w", err)
		}
		// The source is resolved like any path (through the image's
		// symlinks, inside root) and must be an existing non-directory.
		src, err := securejoin.SecureJoin(u.root, ln)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(src, u.root+"/") {
			return fmt.Errorf("hard link to %q: %w", h.Linkname, errEscape)
		}
		fi, err := os.Lstat(src)
		if err != nil {
			return fmt.Errorf("hard link to %q: %w", h.Linkname, err)
		}
		if fi.IsDir() {
			return fmt.Errorf("hard link to directory %q", h.Linkname)
		}
		return os.Link(src, target)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		m := mode
		switch h.Typeflag {
		case tar.TypeChar:
			m |= unix.S_IFCHR
		case tar.TypeBlock:
			m |= unix.S_IFBLK
		default:
			m |= unix.S_IFIFO
		}
		if err := unix.Mknod(target, m, int(unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor)))); err != nil {
			if h.Typeflag != tar.TypeFifo && !u.chown {
				return nil // device nodes need root; /dev is a tmpfs at run time anyway
			}
			return err
		}
	case tar.TypeXGlobalHeader:
		return nil
	default:
		return fmt.Errorf("unsupported entry type %q", h.Typeflag)
	}
	return u.attrs(target, h)
}

// attrs sets owner, extended attributes, mode and times, in that order:
// chown clears set-uid bits, so the mode comes after it.
func (u *unpacker) attrs(p string, h *tar.Header) error {
	if u.chown {
		if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
			return err
		}
		for k, v := range h.PAXRecords {
			if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				// overlayfs's own attributes (opaque, redirect, origin)
				// come from whiteouts only: from an image they could
				// make the overlay look up paths the image chose.
				if strings.HasPrefix(x, "trusted.overlay.") {
					continue
				}
				if err := unix.Lsetxattr(p, x, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
					return fmt.Errorf("xattr %s: %w", x, err)
				}
			}
		}
	}
	if h.Typeflag != tar.TypeSymlink {
		if err := unix.Fchmodat(unix.AT_FDCWD, p, uint32(h.Mode&0o7777), 0); err != nil {
			return err
		}
	}
	if h.Typeflag == tar.TypeDir {
		u.dirs = append(u.dirs, dirTimes{p, h.AccessTime, h.ModTime})
		return nil
	}
	at := h.AccessTime
	if at.IsZero() {
		at = h.ModTime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(h.ModTime.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// whiteout deletes p from the layers below.
func (u *unpacker) whiteout(p string) error {
	if err := os.RemoveAll(p); err != nil {
		return err
	}
	if u.mode == Flatten {
		return nil
	}
	return unix.Mknod(p, unix.S_IFCHR, 0)
}

// opaque hides everything the layers below have in dir.
func (u *unpacker) opaque(dir string) error {
	if u.mode == Overlay {
		return unix.Lsetxattr(dir, "trusted.overlay.opaque", []byte("y"), 0)
	}
	// Flattened, the layers below lose everything in dir; this layer's
	// own entries may come before or after the marker in the tar.
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if u.seen[p] {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}
