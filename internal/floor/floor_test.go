package floor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/internal/cgroup"
)

func TestParentLimits(t *testing.T) {
	p := Parent{Path: "nucbox.workloads", Reserve: Reserve{Memory: 256 << 20, PIDs: 512}}
	got, err := p.Limits(Host{Memory: 2 << 30, PIDs: 32768})
	if err != nil {
		t.Fatal(err)
	}
	if want := (cgroup.Limits{Memory: 2<<30 - 256<<20, PIDs: 32768 - 512}); got != want {
		t.Errorf("limits %+v, want %+v", got, want)
	}
	for _, c := range []struct {
		p    Parent
		h    Host
		want string
	}{
		{p, Host{Memory: 200 << 20, PIDs: 32768}, "a reserve of 256 MiB leaves nothing of the box's 200 MiB"},
		{p, Host{Memory: 2 << 30, PIDs: 512}, "a reserve of 512 processes leaves nothing of the box's 512"},
		{Parent{Path: "w"}, Host{Memory: 2 << 30, PIDs: 32768}, "no reserve"},
	} {
		if _, err := c.p.Limits(c.h); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v on %+v: %v, want %q", c.p, c.h, err, c.want)
		}
	}
}

func TestReadHost(t *testing.T) {
	h, err := ReadHost()
	if err != nil {
		t.Fatal(err)
	}
	if h.Memory < 64<<20 || h.PIDs < 300 {
		t.Errorf("host %+v: implausible", h)
	}
	if _, err := memTotal([]byte("MemFree: 1 kB\n")); err == nil {
		t.Error("meminfo without MemTotal accepted")
	}
	if n, err := memTotal([]byte("MemTotal:       24683772 kB\nMemFree: 1 kB\n")); err != nil || n != 24683772<<10 {
		t.Errorf("MemTotal = %d, %v", n, err)
	}
}

// PID 1's own settings: out of the OOM killer's choice, more descriptors
// and process ids; nothing lowered. The kernel's pid_max is the host's
// here, so the test writes a file standing in for it.
func TestProtectSelf(t *testing.T) {
	dir := t.TempDir()
	oom, pidMax := filepath.Join(dir, "oom_score_adj"), filepath.Join(dir, "pid_max")
	var before unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &before); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Setrlimit(unix.RLIMIT_NOFILE, &before) })
	// Both files exist, as in /proc: the test runner need not be root.
	os.WriteFile(oom, []byte("0\n"), 0o644)
	os.WriteFile(pidMax, []byte("32768\n"), 0o644)
	// The soft limit low, as the kernel starts init; raising the hard
	// limit too needs CAP_SYS_RESOURCE, which PID 1 has and a test
	// runner may not.
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 1024, Max: before.Max}); err != nil {
		t.Fatal(err)
	}
	want := before.Max
	if err := protect(Self{OOMScoreAdj: -1000, NoFile: want, PIDMax: 1 << 22}, oom, pidMax); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(oom); string(b) != "-1000" {
		t.Errorf("oom_score_adj %q", b)
	}
	if b, _ := os.ReadFile(pidMax); string(b) != "4194304" {
		t.Errorf("pid_max %q", b)
	}
	var got unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &got); err != nil {
		t.Fatal(err)
	}
	if got.Cur != want || got.Max != want {
		t.Errorf("RLIMIT_NOFILE %d/%d, want %d", got.Cur, got.Max, want)
	}
	// Already higher: left alone.
	os.WriteFile(pidMax, []byte("8000000\n"), 0o644)
	if err := protect(Self{OOMScoreAdj: -1000, NoFile: 64, PIDMax: 1 << 22}, oom, pidMax); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(pidMax); strings.TrimSpace(string(b)) != "8000000" {
		t.Errorf("pid_max lowered to %q", b)
	}
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &got); err != nil || got.Max != want {
		t.Errorf("RLIMIT_NOFILE lowered to %d (%v)", got.Max, err)
	}
}
