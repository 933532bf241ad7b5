package image

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression formats for the initramfs; both are built into the Debian
// kernel (CONFIG_RD_ZSTD, CONFIG_RD_GZIP).
const (
	Zstd = "zstd"
	Gzip = "gzip"
)

// zstdWindow is the largest back-reference distance the encoder may use.
// The kernel's unpacker allocates a buffer of the frame's window size
// before it starts, while memory is still scarce, so the window is kept at
// the 8 MiB that the kernel's own `zstd -19` initramfs builds produce
// rather than the hundreds of MiB the format allows.
const zstdWindow = 8 << 20

// initramfsName returns the output file name for a compression format.
func initramfsName(compression string) (string, error) {
	switch compression {
	case "", Zstd:
		return "initramfs.cpio.zst", nil
	case Gzip:
		return "initramfs.cpio.gz", nil
	}
	return "", fmt.Errorf("unknown initramfs compression %q (want %s or %s)", compression, Zstd, Gzip)
}

// compressor wraps w in an encoder for the format. The encoders are
// deterministic for a given input, which keeps the image reproducible.
func compressor(w io.Writer, compression string) (io.WriteCloser, error) {
	switch compression {
	case "", Zstd:
		// One frame, no dictionary, with a content checksum the kernel
		// verifies. SpeedBestCompression: the image's size is a goal
		// (the UKI with QEMU in 30 MB) and a build is rare; unpacking at
		// boot costs the same at every level. One encoder goroutine
		// keeps memory flat.
		return zstd.NewWriter(w,
			zstd.WithEncoderLevel(zstd.SpeedBestCompression),
			zstd.WithWindowSize(zstdWindow),
			zstd.WithEncoderCRC(true),
			zstd.WithEncoderConcurrency(1),
		)
	case Gzip:
		// The gzip header's name and time stay empty: they would make
		// two builds of the same image differ. The default level: level
		// 9 took 13 times as long for 3% less on an image with QEMU.
		return gzip.NewWriterLevel(w, gzip.DefaultCompression)
	}
	return nil, fmt.Errorf("unknown initramfs compression %q (want %s or %s)", compression, Zstd, Gzip)
}
