package randseed

import (
	"os"
	"testing"

	"github.com/nucbox/nucbox/test/ci"
)

// RNDADDENTROPY on a running host only adds to its pool, so the real
// ioctl is tested here, as root.
func TestAddEntropyCredits(t *testing.T) {
	if os.Geteuid() != 0 {
		ci.Missing(t, "RNDADDENTROPY needs root")
		return
	}
	var b [64]byte
	if err := Read(b[:]); err != nil {
		t.Fatal(err)
	}
	// A ready host's pool shows 256 bits whatever is added, so the credit
	// itself cannot be seen here (the QEMU boots see it: a credited seed
	// makes the pool ready at once); what is tested is that the ioctl
	// reaches the kernel with the struct it expects: both calls are
	// accepted, and a negative credit, which the kernel refuses, fails.
	if err := AddEntropy("/dev/random", b[:32], 0); err != nil {
		t.Fatalf("mix only: %v", err)
	}
	if err := AddEntropy("/dev/random", b[32:], 256); err != nil {
		t.Fatalf("credit: %v", err)
	}
	n, err := EntropyCount("/dev/random")
	if err != nil {
		t.Fatal(err)
	}
	if n < 0 || n > 4096 {
		t.Errorf("RNDGETENTCNT = %d, not a bit count", n)
	}
	t.Logf("entropy count %d after crediting 256 bits", n)
	if err := AddEntropy("/dev/random", b[:], -1); err == nil {
		t.Error("control: a negative credit was accepted")
	}
}
