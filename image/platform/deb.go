package platform

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// A .deb is an ar archive: debian-binary, control.tar.*, data.tar.*.
const arMagic = "!<arch>\n"

// arMember finds the member whose name starts with prefix and returns its
// name and a reader for its contents.
func arMember(r io.Reader, prefix string) (string, io.Reader, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, len(arMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != arMagic {
		return "", nil, errors.New("not a .deb (no ar header)")
	}
	for {
		hdr := make([]byte, 60)
		if _, err := io.ReadFull(br, hdr); err != nil {
			return "", nil, fmt.Errorf("no %s* member in the .deb", prefix)
		}
		if string(hdr[58:60]) != "`\n" {
			return "", nil, errors.New("corrupt ar member header")
		}
		name := strings.TrimRight(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 {
			return "", nil, fmt.Errorf("ar member %q: bad size", name)
		}
		if strings.HasPrefix(name, prefix) {
			return name, io.LimitReader(br, size), nil
		}
		// Members are padded to an even offset.
		if _, err := io.CopyN(io.Discard, br, size+size%2); err != nil {
			return "", nil, fmt.Errorf("ar member %q: %w", name, err)
		}
	}
}

// decompress picks the decompressor by the member's extension.
func decompress(name string, r io.Reader) (io.Reader, func(), error) {
	switch {
	case strings.HasSuffix(name, ".xz"):
		xr, err := xz.NewReader(r)
		return xr, func() {}, err
	case strings.HasSuffix(name, ".zst"):
		zr, err := zstd.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	case strings.HasSuffix(name, ".gz"):
		gr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return gr, func() { gr.Close() }, nil
	case strings.HasSuffix(name, ".tar"):
		return r, func() {}, nil
	}
	return nil, nil, fmt.Errorf("member %s: unknown compression", name)
}

// Unpack extracts the data.tar of the .deb in r under dir, as dpkg would
// install it with dir as /. Regular files keep their permission bits
// (not set-id bits: the unpacking user owns everything), symlinks are
// kept as they are (absolute ones resolve against dir when read through
// Root), hard links become copies. A path that would leave dir is
// refused.
func Unpack(r io.Reader, dir string) error {
	name, member, err := arMember(r, "data.tar")
	if err != nil {
		return err
	}
	dr, done, err := decompress(name, member)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer done()
	tr := tar.NewReader(dr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		rel := path.Clean("/" + h.Name)
		if rel == "/" {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if err := noLinkedParent(dir, rel); err != nil {
			return fmt.Errorf("%s: %s: %w", name, h.Name, err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		perm := os.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			// Writable by the owner whatever the package says, so a
			// later package can add files and the cache can be removed.
			if err := os.Chmod(dst, perm|0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeFile(dst, tr, perm); err != nil {
				return fmt.Errorf("%s: %s: %w", name, h.Name, err)
			}
		case tar.TypeSymlink:
			os.Remove(dst)
			if err := os.Symlink(h.Linkname, dst); err != nil {
				return err
			}
		case tar.TypeLink:
			src := filepath.Join(dir, filepath.FromSlash(path.Clean("/"+h.Linkname)))
			f, err := os.Open(src)
			if err != nil {
				return fmt.Errorf("%s: hard link %s: %w", name, h.Name, err)
			}
			fi, _ := f.Stat()
			err = writeFile(dst, f, fi.Mode().Perm())
			f.Close()
			if err != nil {
				return err
			}
		default:
			// Device nodes and fifos have no place in a package's data.
		}
	}
}

// noLinkedParent refuses a path whose parent directories include a
// symlink: writing through it could land outside dir.
func noLinkedParent(dir, rel string) error {
	p := dir
	parts := strings.Split(strings.TrimPrefix(path.Dir(rel), "/"), "/")
	for _, c := range parts {
		if c == "" {
			continue
		}
		p = filepath.Join(p, c)
		fi, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("parent %s is a symlink; refusing to write through it", strings.TrimPrefix(p, dir))
		}
	}
	return nil
}

func writeFile(dst string, r io.Reader, perm os.FileMode) error {
	os.Remove(dst)
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
