package image

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// pending is an output written under a temporary name in its final
// directory. commit renames it into place, which is atomic within one
// file system; discard removes it unless it was committed. A reader such
// as a running QEMU or a PXE server thus sees the old file or the new one,
// never a prefix.
type pending struct {
	tmp       string
	committed bool
}

func createPending(dir, name string) (*os.File, *pending, error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return nil, nil, err
	}
	return f, &pending{tmp: f.Name()}, nil
}

// finish flushes f to disk and closes it, with the mode the final file
// should have (CreateTemp makes 0600 files).
func finish(f *os.File) error {
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (p *pending) commit(dst string) error {
	if err := os.Rename(p.tmp, dst); err != nil {
		return err
	}
	p.committed = true
	return nil
}

func (p *pending) discard() {
	if !p.committed {
		os.Remove(p.tmp)
	}
}

// syncDir makes renames durable; failure only weakens crash safety, so it
// is not reported.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// countingWriter counts the bytes that pass through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// writeInitramfs streams the tree through the compressor into a pending
// file and fills in the archive's sizes in res.
func writeInitramfs(ctx context.Context, t *tree, dir, compression string, p *progress, res *Result) (_ *pending, err error) {
	f, pend, err := createPending(dir, filepath.Base(res.Initramfs))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
			pend.discard()
		}
	}()
	buf := bufio.NewWriterSize(f, 1<<20)
	zw, err := compressor(buf, compression)
	if err != nil {
		return nil, err
	}
	files, total := t.counts()
	bar, done := p.bar("archive", total)
	cw := &countingWriter{w: io.MultiWriter(zw, bar)}
	err = t.writeTo(ctx, cw)
	done()
	if err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if err := buf.Flush(); err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := finish(f); err != nil {
		return nil, err
	}
	res.Files = files
	res.UncompressedBytes = cw.n
	res.InitramfsBytes = fi.Size()
	ratio := 0.0
	if cw.n > 0 {
		ratio = float64(fi.Size()) / float64(cw.n) * 100
	}
	p.step("archive", "%d files, %s, compressed with %s to %s (%.0f%%)",
		files, size(cw.n), compressionName(compression), size(fi.Size()), ratio)
	return pend, nil
}

func compressionName(c string) string {
	if c == "" {
		return Zstd
	}
	return c
}

// copyKernel copies the kernel into a pending file next to its final name.
func copyKernel(src, dir string) (_ *pending, err error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, fmt.Errorf("kernel: %w", err)
	}
	defer in.Close()
	f, pend, err := createPending(dir, "vmlinuz")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
			pend.discard()
		}
	}()
	if _, err := io.Copy(f, in); err != nil {
		return nil, fmt.Errorf("copying kernel: %w", err)
	}
	return pend, finish(f)
}
