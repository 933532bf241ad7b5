package containers

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// LayerLimits bound what one image layer may put on the box's disk. An
// image comes from anyone who can publish one; without limits a layer of
// a few KiB (a gzip bomb, a sparse file of terabytes) fills the data
// partition that holds every VM's disk. Zero fields take the defaults.
type LayerLimits struct {
	// MaxBytes caps a layer's uncompressed size: the tar stream, and
	// the sum of the sizes its file headers declare (a sparse file
	// counts at its full size, as it would be written).
	MaxBytes int64
	// MaxEntries caps a layer's tar entries, and so the inodes it makes.
	MaxEntries int64
	// FreeReserve is the space a layer must leave free on the cache's
	// filesystem; 0 takes a tenth of that filesystem, at most 1 GiB;
	// negative leaves none.
	FreeReserve int64
}

// DefaultLayerLimits: larger than the layers of any common image (CUDA
// and language toolchain layers stay below a few GiB and 200,000 files).
var DefaultLayerLimits = LayerLimits{
	MaxBytes:   16 << 30,
	MaxEntries: 1_000_000,
}

// ErrLayerLimit is wrapped by every refusal of a layer over its limits.
var ErrLayerLimit = errors.New("layer over its limits")

// ErrDiffID is wrapped when a layer's content does not hash to the
// DiffID its image declares.
var ErrDiffID = errors.New("layer content does not match its DiffID")

func (l LayerLimits) withDefaults() LayerLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLayerLimits.MaxBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultLayerLimits.MaxEntries
	}
	return l
}

// reserveOn turns FreeReserve into bytes for the filesystem holding dir.
func (l LayerLimits) reserveOn(dir string) (int64, error) {
	switch {
	case l.FreeReserve < 0:
		return 0, nil
	case l.FreeReserve > 0:
		return l.FreeReserve, nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return min(int64(st.Blocks)*st.Bsize/10, 1<<30), nil
}

// SetLayerLimits replaces the limits the store unpacks layers within.
func (s *Store) SetLayerLimits(l LayerLimits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = l
}

// charge counts h against the layer's limits before anything of it is
// written, and checks that a regular file leaves the reserve free.
func (u *unpacker) charge(h *tar.Header) error {
	u.entries++
	if u.entries > u.lim.MaxEntries {
		return fmt.Errorf("more than %d entries: %w", u.lim.MaxEntries, ErrLayerLimit)
	}
	if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA {
		return nil
	}
	if h.Size < 0 || h.Size > u.lim.MaxBytes-u.bytes {
		return fmt.Errorf("a file of %d bytes takes the layer past %d bytes uncompressed: %w", h.Size, u.lim.MaxBytes, ErrLayerLimit)
	}
	u.bytes += h.Size
	if u.reserve == 0 {
		return nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs(u.root, &st); err != nil {
		return err
	}
	if free := int64(st.Bavail) * st.Bsize; free-h.Size < u.reserve {
		return fmt.Errorf("a file of %d bytes would leave less than %d bytes free on the image cache's filesystem (%d free): %w",
			h.Size, u.reserve, free, ErrLayerLimit)
	}
	return nil
}

// unpackVerified unpacks the uncompressed layer stream r into dir as an
// overlay lower directory, within lim, and reads r to its end. The stream
// is hashed as it is read; if it does not hash to diffID, or runs past
// lim.MaxBytes, an error is returned (dir's contents are then the
// caller's to delete: it unpacks into a temporary directory).
func (lim LayerLimits) unpackVerified(r io.Reader, dir string, diffID v1.Hash) error {
	lim = lim.withDefaults()
	if diffID.Algorithm != "sha256" {
		return fmt.Errorf("DiffID %s: only sha256 DiffIDs are supported", diffID)
	}
	hr := &hashingReader{r: r, h: sha256.New(), max: lim.MaxBytes}
	if err := lim.unpack(hr, dir, Overlay); err != nil {
		return err
	}
	// The tar's end-of-archive marker need not be the stream's end:
	// what follows is hashed too (and counted against the cap).
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return err
	}
	if got := hex.EncodeToString(hr.h.Sum(nil)); got != diffID.Hex {
		return fmt.Errorf("content hashes to sha256:%s, the image says %s: %w", got, diffID, ErrDiffID)
	}
	return nil
}

// hashingReader hashes what it reads and fails past max bytes.
type hashingReader struct {
	r   io.Reader
	h   hash.Hash
	n   int64
	max int64
}

func (hr *hashingReader) Read(p []byte) (int, error) {
	// One byte past max is read to tell a stream of exactly max bytes
	// from a longer one.
	if int64(len(p)) > hr.max-hr.n+1 {
		p = p[:hr.max-hr.n+1]
	}
	n, err := hr.r.Read(p)
	hr.n += int64(n)
	if hr.n > hr.max {
		return 0, fmt.Errorf("more than %d bytes uncompressed: %w", hr.max, ErrLayerLimit)
	}
	hr.h.Write(p[:n])
	return n, err
}
