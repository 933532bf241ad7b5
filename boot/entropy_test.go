package boot

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nucbox/nucbox/internal/randseed"
	"github.com/nucbox/nucbox/test/ci"
)

// The seed is credited once: mixSeed replaces it before crediting, so
// the next boot (or the same one, after a power cut) only mixes it in;
// and a seed that cannot be replaced is not credited at all. It calls
// RNDADDENTROPY, which on a running host only adds to its pool.
func TestMixSeedCreditsOnce(t *testing.T) {
	if os.Geteuid() != 0 {
		ci.Missing(t, "RNDADDENTROPY needs root")
		return
	}
	id := randseed.Identity("this box")
	var data [randseed.Size]byte
	copy(data[:], "a seed from a ready pool")
	path := filepath.Join(t.TempDir(), "random-seed")
	if err := os.WriteFile(path, randseed.Fresh(data, id), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := mixSeed(path, id); got != "credited" {
		t.Fatalf("control: a fresh seed of this box was %q, want credited", got)
	}
	if got := mixSeed(path, id); got != "mixed" {
		t.Errorf("the same seed's file read again was %q, want mixed (never credited twice)", got)
	}
	if got := mixSeed(path, randseed.Identity("another box")); got != "mixed" {
		t.Errorf("a seed of another box was %q, want mixed", got)
	}
	if got := mixSeed(filepath.Join(t.TempDir(), "none"), id); got != "none" {
		t.Errorf("no seed file gave %q, want none", got)
	}

	// A seed whose file cannot be replaced (a read-only or full data
	// partition) is only mixed in, and stays as it was.
	if err := os.WriteFile(path, randseed.Fresh(data, id), 0o600); err != nil {
		t.Fatal(err)
	}
	defer func(w func(string, []byte, os.FileMode) error) { writeSeed = w }(writeSeed)
	writeSeed = func(string, []byte, os.FileMode) error { return errors.New("read-only file system") }
	if got := mixSeed(path, id); got != "mixed" {
		t.Errorf("a seed that could not be replaced was %q, want mixed", got)
	}
}
