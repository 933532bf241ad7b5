package randseed

import (
	"crypto/sha256"
	"crypto/sha512"
)

// Verdict is what to do with the seed file found at boot.
type Verdict struct {
	// Mix is the bytes to mix into the pool, nil for none.
	Mix []byte
	// CreditBits is how much entropy to credit them with, 0 for none.
	CreditBits int
	// Reason says why, for the boot log.
	Reason string
}

// Decide returns what to do with a seed file's bytes read at boot (nil
// when there is none) on the box named by id. Anything readable is mixed
// in, because mixing never hurts; only an intact seed this box wrote from
// a ready pool, and not used yet, is credited.
//
// The caller must have replaced the file (Replacement) durably before it
// credits: otherwise a power cut after the credit would credit the same
// bytes again at the next boot.
func Decide(file []byte, id [sha256.Size]byte) Verdict {
	if len(file) == 0 {
		return Verdict{Reason: "no seed"}
	}
	s, err := Parse(file)
	switch {
	case err != nil:
		return Verdict{Mix: file, Reason: err.Error() + ": mixed in, not credited"}
	case s.Identity != id:
		return Verdict{Mix: s.Data[:], Reason: "seed of another box: mixed in, not credited"}
	case !s.Creditable:
		return Verdict{Mix: s.Data[:], Reason: "seed already used or not from a ready pool: mixed in, not credited"}
	}
	return Verdict{Mix: s.Data[:], CreditBits: 8 * Size, Reason: "seed credited"}
}

// Replacement is the file that takes the old seed's place before the old
// one is used: derived one-way from it, so it is never the same bytes,
// and not creditable, so a boot that ends before a fresh seed is written
// credits nothing next time.
func Replacement(file []byte, id [sha256.Size]byte) []byte {
	s := Seed{Identity: id}
	for i := 0; i < Size; i += sha512.Size {
		h := sha512.New()
		h.Write([]byte("nucbox random seed replacement\x00"))
		h.Write([]byte{byte(i / sha512.Size)})
		h.Write(file)
		copy(s.Data[i:], h.Sum(nil))
	}
	return s.Marshal()
}

// Fresh is a creditable seed file of data, which must come from the
// kernel's pool after it was ready.
func Fresh(data [Size]byte, id [sha256.Size]byte) []byte {
	return Seed{Creditable: true, Identity: id, Data: data}.Marshal()
}
