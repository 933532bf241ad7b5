package e2e

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/u-root/pkg/cpio"
)

// What an initramfs is made of, for P4's per-part rows: which parts of
// the image the 30 MB goal is spent on. Each part's files are compressed
// on their own with the image's encoder settings (image/compress.go), so
// a part's figure is what it would cost in an archive of its own; the
// parts add up to about the whole archive.

// imagePart is one part of the initramfs: its files' bytes, and those
// bytes compressed.
type imagePart struct {
	name               string
	files              int
	raw, compressedLen int64
	data               bytes.Buffer
}

// partOf names the part a path of the archive belongs to.
func partOf(name string) string {
	name = strings.TrimPrefix(name, "/")
	switch {
	case name == "init":
		return "nucbox (/init)"
	case strings.HasPrefix(name, "usr/bin/qemu-"), strings.HasPrefix(name, "usr/lib/x86_64-linux-gnu/qemu/"):
		return "QEMU programs and TCG module"
	case strings.HasPrefix(name, "usr/share/qemu/"), strings.HasPrefix(name, "usr/share/seabios/"), strings.HasPrefix(name, "usr/lib/ipxe/"):
		return "QEMU firmware"
	case strings.HasPrefix(name, "lib/modules/"):
		return "kernel modules"
	case strings.HasPrefix(name, "lib/x86_64-linux-gnu/"), strings.HasPrefix(name, "lib64/"), strings.HasPrefix(name, "usr/lib/x86_64-linux-gnu/"):
		return "shared libraries"
	case name == "bin/busybox":
		return "busybox"
	case strings.HasPrefix(name, "sbin/"):
		return "e2fsprogs"
	case strings.HasPrefix(name, "usr/share/nucbox/web/"):
		return "web viewers"
	}
	return "other"
}

// imageParts reads a zstd-compressed initramfs and returns its parts,
// largest compressed first.
func imageParts(path string) ([]*imagePart, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	archive, err := io.ReadAll(dec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return archiveParts(archive)
}

// archiveParts splits an uncompressed newc archive into its parts.
func archiveParts(archive []byte) ([]*imagePart, error) {
	byName := map[string]*imagePart{}
	var parts []*imagePart
	rr := cpio.Newc.Reader(bytes.NewReader(archive))
	for {
		rec, err := rr.ReadRecord()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if rec.Info.Mode&cpio.S_IFMT != cpio.S_IFREG {
			continue
		}
		n := partOf(rec.Info.Name)
		p := byName[n]
		if p == nil {
			p = &imagePart{name: n}
			byName[n] = p
			parts = append(parts, p)
		}
		got, err := io.Copy(&p.data, io.NewSectionReader(rec.ReaderAt, 0, int64(rec.Info.FileSize)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rec.Info.Name, err)
		}
		p.files++
		p.raw += got
	}
	for _, p := range parts {
		var out countWriter
		// As image/compress.go's zstd: best level, 8 MiB window.
		enc, err := zstd.NewWriter(&out, zstd.WithEncoderLevel(zstd.SpeedBestCompression),
			zstd.WithWindowSize(8<<20), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		if _, err := enc.Write(p.data.Bytes()); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
		p.compressedLen = out.n
		p.data = bytes.Buffer{}
	}
	slices.SortStableFunc(parts, func(a, b *imagePart) int { return cmp.Compare(b.compressedLen, a.compressedLen) })
	return parts, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(b []byte) (int, error) { c.n += int64(len(b)); return len(b), nil }
