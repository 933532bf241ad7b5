package containers

import (
	"os"
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/ci"
)

// The prime is a move of this process into its own cgroup: it must leave
// every hierarchy as it was.
func TestCgroupPrimeMovesNothing(t *testing.T) {
	requireRoot(t)
	p := newCgroupPrime()
	if p == nil {
		ci.HostLacks(t, "no cgroup hierarchy to prime, or it is mounted with favordynmods, where priming does not apply")
	}
	before, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := p.prime(); err != nil {
		t.Fatal(err)
	}
	t.Logf("prime took %v", time.Since(start))
	after, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Errorf("cgroups changed:\n%s\nto\n%s", before, after)
	}
}
