package boot

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMainRefusesOutsidePID1 runs Main in a child process, which is not
// PID 1: it must refuse clearly and exit instead of touching the host.
func TestMainRefusesOutsidePID1(t *testing.T) {
	if os.Getenv("NUCBOX_TEST_MAIN") != "" {
		Main()
		return
	}
	for _, env := range [][]string{
		{"NUCBOX_TEST_MAIN=1"},
		{"NUCBOX_TEST_MAIN=1", "_LIBCONTAINER_INITPIPE=3"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMainRefusesOutsidePID1$")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 {
			t.Fatalf("%v: exit %v, output %s", env, err, out)
		}
		if !strings.Contains(string(out), "nucbox: ") || !strings.Contains(string(out), "PID 1") && !strings.Contains(string(out), "container init") {
			t.Errorf("%v: unclear refusal: %s", env, out)
		}
	}
}
