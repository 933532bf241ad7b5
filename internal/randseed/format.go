package randseed

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Size is the random part of a seed: 512 bytes as systemd-random-seed
// keeps, of which the kernel needs 32 credited to make its pool ready.
const Size = 512

// magic starts every seed file, with the format's version.
var magic = [8]byte{'n', 'b', 'x', 's', 'e', 'e', 'd', '1'}

// File layout: magic | flags (1 byte) | identity (32) | seed (Size) |
// SHA-256 of everything before it (32).
const (
	flagOff     = len(magic)
	identityOff = flagOff + 1
	seedOff     = identityOff + sha256.Size
	sumOff      = seedOff + Size
	fileSize    = sumOff + sha256.Size
)

// flagCreditable marks a seed written from a ready pool. A file written
// to replace a seed that is about to be used lacks it.
const flagCreditable = 1

// Seed is one seed file's content.
type Seed struct {
	// Creditable says the bytes came from a ready pool and were not used
	// yet.
	Creditable bool
	// Identity is the box the seed was written on (see Identity).
	Identity [sha256.Size]byte
	Data     [Size]byte
}

// Identity hashes what names this box and its data partition, so that a
// seed file copied to another box (a cloned stick) is not credited there.
// parts are, e.g., the machine's DMI UUID and the data partition's UUID.
func Identity(parts ...string) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte("nucbox random seed identity\x00"))
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\x00", len(p), p)
	}
	var id [sha256.Size]byte
	copy(id[:], h.Sum(nil))
	return id
}

// Marshal encodes s as a seed file.
func (s Seed) Marshal() []byte {
	b := make([]byte, fileSize)
	copy(b, magic[:])
	if s.Creditable {
		b[flagOff] = flagCreditable
	}
	copy(b[identityOff:], s.Identity[:])
	copy(b[seedOff:], s.Data[:])
	sum := sha256.Sum256(b[:sumOff])
	copy(b[sumOff:], sum[:])
	return b
}

// Errors of Parse: a file that is not a seed of this format at all, and
// one whose checksum does not match (torn or edited).
var (
	ErrNotSeed  = errors.New("not a nucbox random seed")
	ErrChecksum = errors.New("random seed checksum mismatch")
)

// Parse decodes a seed file.
func Parse(b []byte) (Seed, error) {
	var s Seed
	if len(b) != fileSize || !bytes.Equal(b[:len(magic)], magic[:]) {
		return s, ErrNotSeed
	}
	sum := sha256.Sum256(b[:sumOff])
	if !bytes.Equal(sum[:], b[sumOff:]) {
		return s, ErrChecksum
	}
	s.Creditable = b[flagOff] == flagCreditable
	copy(s.Identity[:], b[identityOff:seedOff])
	copy(s.Data[:], b[seedOff:sumOff])
	return s, nil
}
