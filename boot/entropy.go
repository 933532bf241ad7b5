package boot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nucbox/nucbox/internal/atomicfile"
	"github.com/nucbox/nucbox/internal/randseed"
	"golang.org/x/sys/unix"
)

// The kernel's random pool must be ready before anything asks for random
// bytes. On a machine whose CPU has no RDRAND and no hardware RNG driver
// (a hypervisor's default CPU model, an older board) it is not ready at
// boot, and the DHCP client library polls getrandom(GRND_NONBLOCK) in a
// loop, which neither waits nor helps: a second boot of a USB image under
// QEMU took 146 s to get its pool ready that way. PID 1 mixes in the seed
// the last boot left on the data partition, and then asks for random
// bytes once with a blocking getrandom(2): where no source has made the
// pool ready, that call is what makes the kernel collect timing jitter
// until it is.

// seedFile is the random seed on the data partition.
const seedFile = DataDir + "/random-seed"

// writeSeed replaces a seed file durably; a variable so that a test can
// make it fail.
var writeSeed = atomicfile.WriteFile

// entropyState is what the entropy phase found, for the ready summary.
type entropyState struct {
	seed    string        // credited, mixed, none
	readyAt time.Duration // kernel time the pool was ready
	waited  time.Duration // time spent in the blocking getrandom
}

// seedEntropy is the entropy phase: mix the seed (crediting it when it is
// this box's and unused, after replacing it), wait for the pool, write a
// fresh seed for the next boot.
func (p *pid1) seedEntropy() bool {
	defer recoverLog("entropy")
	id := seedIdentity()
	p.entropy.seed = "none"
	if p.data.isMounted() {
		p.entropy.seed = mixSeed(seedFile, id)
	}
	start := time.Now()
	var fresh [randseed.Size]byte
	if err := randseed.Read(fresh[:]); err != nil {
		Logf("entropy: warning: %v", err)
		return true
	}
	p.entropy.waited = time.Since(start)
	p.entropy.readyAt = crngReadyTime(sinceBoot())
	Logf("entropy: pool ready at %s (waited %d ms, seed %s)",
		stamp(p.entropy.readyAt), p.entropy.waited.Milliseconds(), p.entropy.seed)
	if p.data.isMounted() {
		if err := writeSeed(seedFile, randseed.Fresh(fresh, id), 0o600); err != nil {
			Logf("entropy: warning: no seed for the next boot: %v", err)
		}
	}
	return true
}

// mixSeed mixes the seed file into the pool and says how: "credited",
// "mixed" or "none". The file is replaced durably before a credit, so
// that the same bytes are never credited twice, even after a power cut.
func mixSeed(path string, id [32]byte) string {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		Logf("entropy: warning: %v", err)
	}
	v := randseed.Decide(old, id)
	if v.Mix == nil {
		Logf("entropy: %s", v.Reason)
		return "none"
	}
	if v.CreditBits > 0 {
		if err := writeSeed(path, randseed.Replacement(old, id), 0o600); err != nil {
			Logf("entropy: warning: cannot replace the seed, so it is not credited: %v", err)
			v.CreditBits, v.Reason = 0, "seed not replaceable: mixed in, not credited"
		}
	}
	if err := randseed.AddEntropy("/dev/urandom", v.Mix, v.CreditBits); err != nil {
		Logf("entropy: warning: %v", err)
		return "none"
	}
	Logf("entropy: %s", v.Reason)
	if v.CreditBits > 0 {
		return "credited"
	}
	return "mixed"
}

// seedIdentity names this box and its data partition: the firmware's
// machine UUID and serials, and the data partition's filesystem id. A
// seed copied with the stick to another machine is then not credited
// there.
func seedIdentity() [32]byte {
	var parts []string
	for _, f := range []string{"product_uuid", "product_serial", "board_serial"} {
		b, _ := os.ReadFile(filepath.Join("/sys/class/dmi/id", f))
		parts = append(parts, strings.TrimSpace(string(b)))
	}
	var st unix.Statfs_t
	if unix.Statfs(DataDir, &st) == nil {
		parts = append(parts, fmt.Sprint(st.Fsid.Val))
	}
	return randseed.Identity(parts...)
}

// crngReadyTime is when the kernel logged "crng init done", on its clock;
// now when that record is not (or no longer) in the kernel's log, as when
// the pool was ready before PID 1 started and the log has wrapped.
func crngReadyTime(now time.Duration) time.Duration {
	f, err := os.OpenFile("/dev/kmsg", os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return now
	}
	defer f.Close()
	buf := make([]byte, 8192)
	for i := 0; i < 100000; i++ {
		n, err := unix.Read(int(f.Fd()), buf)
		if err == unix.EPIPE || err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			break
		}
		if ts, text, ok := parseKmsg(buf[:n]); ok && strings.Contains(text, "crng init done") {
			return ts
		}
	}
	return now
}
