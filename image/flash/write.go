package flash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nucbox/nucbox/image/internal/bar"
	"golang.org/x/sys/unix"
)

// chunk is the write size: large enough for USB sticks' erase blocks,
// small enough for a responsive bar and cancellation.
const chunk = 4 << 20

// Result describes a finished write.
type Result struct {
	Bytes    int64
	SHA256   [32]byte
	Written  time.Duration // writing and syncing
	Verified time.Duration // reading back
}

// Write copies the image to the device node, syncs it, and reads it back
// to compare checksums. progress, when a terminal, shows a bar for each
// pass.
func Write(ctx context.Context, image, device string, progress io.Writer) (*Result, error) {
	in, err := os.Open(image)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return nil, err
	}
	// O_EXCL on a block device fails while anything has it mounted or
	// claimed: a last guard against a mount that appeared after Check.
	out, err := os.OpenFile(device, os.O_WRONLY|unix.O_EXCL, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s for writing: %w", device, err)
	}
	res := &Result{Bytes: fi.Size()}
	start := time.Now()
	h := sha256.New()
	w, done := bar.New(progress, "writing  ", fi.Size())
	_, err = copyCtx(ctx, io.MultiWriter(out, h, w), in)
	done()
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", device, err)
	}
	res.Written = time.Since(start)
	copy(res.SHA256[:], h.Sum(nil))

	start = time.Now()
	got, err := readBack(ctx, device, fi.Size(), progress)
	if err != nil {
		return nil, fmt.Errorf("verifying %s: %w", device, err)
	}
	res.Verified = time.Since(start)
	if !bytes.Equal(got[:], res.SHA256[:]) {
		return nil, fmt.Errorf("verifying %s: the first %d bytes read back have sha256 %x, the image %x: the device did not keep what was written (a failing or fake-capacity stick?)",
			device, fi.Size(), got, res.SHA256)
	}
	return res, nil
}

// readBack hashes the first n bytes of the device. The kernel's cache of
// the device is dropped first, so the bytes come from the medium and not
// from the writes just made.
func readBack(ctx context.Context, device string, n int64, progress io.Writer) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(device)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	// BLKFLSBUF works on block devices; on anything else the advice
	// still drops clean pages.
	_ = unix.IoctlSetInt(int(f.Fd()), unix.BLKFLSBUF, 0)
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	h := sha256.New()
	w, done := bar.New(progress, "verifying", n)
	m, err := copyCtx(ctx, io.MultiWriter(h, w), io.LimitReader(f, n))
	done()
	if err != nil {
		return sum, err
	}
	if m != n {
		return sum, fmt.Errorf("read back %d bytes of %d", m, n)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

func copyCtx(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, chunk)
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
