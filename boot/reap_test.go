package boot

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseProcStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := "4242 (we ird) (x) Z 1 4242 4242 0 -1 4194564 0 0 0 0 0 0 0 0 20 0 1 0 987654 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
	st, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.pid != 4242 || st.comm != "we ird) (x" || st.state != 'Z' || st.ppid != 1 || st.start != 987654 || st.flags != 4194564 {
		t.Errorf("parsed %+v", st)
	}
	for _, bad := range []string{"", "12 (x", "x (y) S 1", "12 (x) S notanumber 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
	self, err := readProcStat("/proc", os.Getpid())
	if err != nil || self.pid != os.Getpid() || self.ppid != os.Getppid() || self.start == 0 {
		t.Errorf("own stat %+v, %v", self, err)
	}
}

func TestReapDecision(t *testing.T) {
	const grace = 3 * time.Second
	for _, tc := range []struct {
		owned   bool
		zombie  time.Duration
		reap    bool
		recheck time.Duration
	}{
		{owned: true, zombie: time.Hour, reap: false},
		{owned: true, zombie: 0, reap: false},
		{owned: false, zombie: 0, reap: false, recheck: grace},
		{owned: false, zombie: time.Second, reap: false, recheck: 2 * time.Second},
		{owned: false, zombie: grace, reap: true},
		{owned: false, zombie: time.Minute, reap: true},
	} {
		reap, recheck := reapDecision(tc.owned, tc.zombie, grace)
		if reap != tc.reap || recheck != tc.recheck {
			t.Errorf("reapDecision(owned %v, zombie for %v) = %v, %v; want %v, %v",
				tc.owned, tc.zombie, reap, recheck, tc.reap, tc.recheck)
		}
	}
	if reap, _ := reapDecision(false, 0, 0); !reap {
		t.Error("no grace: an unowned zombie must be reaped at once")
	}
}

var subreaperOnce sync.Once

// becomeSubreaper makes the test process adopt its orphaned
// grandchildren, as PID 1 does, so the reaper can be tested on the host
// without being init.
func becomeSubreaper(t *testing.T) {
	t.Helper()
	var err error
	subreaperOnce.Do(func() { err = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) })
	if err != nil {
		t.Fatalf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
}

// waitZombie waits until pid is a zombie child of this process.
func waitZombie(t *testing.T, pid int) {
	t.Helper()
	if err := zombieWait(pid); err != nil {
		t.Fatal(err)
	}
}

func zombieWait(pid int) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st, err := readProcStat("/proc", pid)
		if err == nil && st.state == 'Z' && st.ppid == os.Getpid() {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("pid %d never became our zombie", pid)
}

func TestReaperLeavesOwnedChildren(t *testing.T) {
	becomeSubreaper(t)
	r := NewReaper(time.Hour)
	cmd := exec.Command("true")
	if err := r.Start(cmd); err != nil {
		t.Fatal(err)
	}
	waitZombie(t, cmd.Process.Pid)
	r.Scan(time.Now().Add(24 * time.Hour)) // long past any grace
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the reaper stole an owned child's status: %v", err)
	}
	if r.Reaped() != 0 {
		t.Errorf("reaped %d", r.Reaped())
	}
}

func TestReaperReapsUnownedAfterGrace(t *testing.T) {
	becomeSubreaper(t)
	r := NewReaper(time.Minute)
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil { // not registered: unowned
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	waitZombie(t, pid)
	now := time.Now()
	if next := r.Scan(now); next != time.Minute {
		t.Errorf("first sight: recheck in %v, want the grace", next)
	}
	if st, err := readProcStat("/proc", pid); err != nil || st.state != 'Z' {
		t.Fatalf("reaped within its grace: %+v %v", st, err)
	}
	r.Scan(now.Add(time.Minute))
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); !os.IsNotExist(err) {
		t.Fatalf("pid %d not reaped after its grace", pid)
	}
	// Proof that the test can see a theft: its Wait has nothing left.
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "no child") {
		t.Errorf("Wait after reaping: %v", err)
	}
}

func TestReaperReapsOrphans(t *testing.T) {
	becomeSubreaper(t)
	r := NewReaper(0)
	// sh starts a grandchild and exits; the grandchild becomes ours.
	sh := exec.Command("sh", "-c", "sleep 0.1 & echo $!")
	sh.Stderr = os.Stderr
	var out strings.Builder
	sh.Stdout = &out
	if err := r.Start(sh); err != nil {
		t.Fatal(err)
	}
	if err := sh.Wait(); err != nil {
		t.Fatal(err)
	}
	orphan, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("orphan pid %q", out.String())
	}
	waitZombie(t, orphan)
	r.Scan(time.Now())
	if _, err := os.Stat("/proc/" + strconv.Itoa(orphan)); !os.IsNotExist(err) {
		t.Fatalf("orphan %d not reaped", orphan)
	}
	if r.Reaped() != 1 {
		t.Errorf("reaped %d, want 1", r.Reaped())
	}
}

// TestReaperUnderLoad runs the reaper as PID 1 does, on SIGCHLD and with
// no grace at all, while owned commands start and finish and orphans
// appear: every owned command must get its own exit status.
func TestReaperUnderLoad(t *testing.T) {
	becomeSubreaper(t)
	r := NewReaper(0)
	stop := make(chan struct{})
	ran := make(chan struct{})
	go func() { r.Run(stop); close(ran) }()
	defer func() { close(stop); <-ran }()

	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				cmd := exec.Command("sh", "-c", "sleep 0.01 & exit 3")
				if err := r.Start(cmd); err != nil {
					errs <- err
					return
				}
				var ee *exec.ExitError
				if err := cmd.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 3 {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("owned command lost its status: %v", err)
	}
	// The orphaned sleeps are reaped too.
	deadline := time.Now().Add(10 * time.Second)
	for r.Reaped() < 200 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if r.Reaped() != 200 {
		t.Errorf("reaped %d orphans, want 200", r.Reaped())
	}
}

// TestReaperNestedStarts: a runtime started under WithSpawnGuard that
// itself starts commands must neither deadlock against scans nor lose
// statuses, and its own helpers (waited for by pid, unregistered) must
// be left alone while the guard is up.
func TestReaperNestedStarts(t *testing.T) {
	becomeSubreaper(t)
	r := NewReaper(0)
	stop := make(chan struct{})
	ran := make(chan struct{})
	go func() { r.Run(stop); close(ran) }()
	defer func() { close(stop); <-ran }()

	done := make(chan error, 1)
	go func() {
		done <- r.WithSpawnGuard(func() ([]int, error) {
			// A helper forked without registration, waited for later.
			helper := exec.Command("true")
			if err := helper.Start(); err != nil {
				return nil, err
			}
			if err := zombieWait(helper.Process.Pid); err != nil {
				return nil, err
			}
			for i := 0; i < 20; i++ {
				inner := exec.Command("true")
				if err := r.Start(inner); err != nil {
					return nil, err
				}
				if err := inner.Wait(); err != nil {
					return nil, err
				}
			}
			// Scans have run (SIGCHLD from the inner commands) but must
			// not have touched the helper.
			return nil, helper.Wait()
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("nested starts deadlocked")
	}
}

// The box starts QEMU and qemu-img with StartCommand (box.Options): a
// reaper scan while the child is a zombie must leave its exit status to
// the owner's Wait.
func TestStartCommandKeepsExitStatus(t *testing.T) {
	cmd := exec.Command("sh", "-c", "exit 7")
	if err := StartCommand(cmd); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		Children.Scan(time.Now().Add(time.Hour))
		time.Sleep(5 * time.Millisecond)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Errorf("Wait = %v, want exit status 7", err)
	}
}
