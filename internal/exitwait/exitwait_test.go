package exitwait

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Exited returns when the child exits, not before, and leaves the exit
// status to Wait.
func TestExitedWaitsForTheExit(t *testing.T) {
	cmd := exec.Command("sh", "-c", "read x; exit 7")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan bool, 1)
	go func() { done <- Exited(cmd.Process.Pid) }()
	select {
	case <-done:
		t.Fatal("Exited returned while the child still ran")
	case <-time.After(200 * time.Millisecond):
	}
	in.Close()
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("Exited could not wait through a pidfd")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Exited did not return after the child exited")
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Errorf("Wait after Exited = %v, want exit status 7", err)
	}
}

// Many waiters hold no thread each; blocking in Wait does (the positive
// control, with the same children). What is counted is the threads
// blocked in a wait syscall, not all threads: the runtime keeps the
// threads of earlier blocking calls idle, and a later Wait reuses them
// (a second run in one process would add none).
func TestExitedHoldsNoThread(t *testing.T) {
	const n = 40
	var cmds []*exec.Cmd
	var ins []interface{ Close() error }
	for range n {
		cmd := exec.Command("sh", "-c", "read x")
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, ins = append(cmds, cmd), append(ins, in)
	}
	defer func() {
		for _, in := range ins {
			in.Close()
		}
	}()
	for _, c := range cmds[:n/2] {
		go Exited(c.Process.Pid)
	}
	// Time for the waiters to park; a thread each would show by then,
	// as the control below shows for Wait within the same kind of pause.
	time.Sleep(300 * time.Millisecond)
	viaPidfd := inWait(t)
	for _, c := range cmds[n/2:] {
		go c.Wait()
	}
	deadline := time.Now().Add(5 * time.Second)
	blocking := 0
	for time.Now().Before(deadline) && blocking < n/4 {
		time.Sleep(50 * time.Millisecond)
		blocking = inWait(t) - viaPidfd
	}
	if blocking < n/4 {
		t.Fatalf("control: %d waiters in Wait put only %d threads in a wait syscall; the count cannot tell", n/2, blocking)
	}
	if viaPidfd > 3 {
		t.Errorf("%d waiters in Exited put %d threads in a wait syscall (%d in Wait: %d)", n/2, viaPidfd, n/2, blocking)
	}
	for _, in := range ins {
		in.Close()
	}
	for _, c := range cmds[:n/2] {
		c.Wait()
	}
}

// inWait counts this process's threads blocked in wait4 or waitid.
func inWait(t *testing.T) int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/syscall")
		if err != nil {
			continue // the thread is gone
		}
		if f := strings.Fields(string(b)); len(f) > 0 && (f[0] == strconv.Itoa(unix.SYS_WAIT4) || f[0] == strconv.Itoa(unix.SYS_WAITID)) {
			n++
		}
	}
	return n
}
