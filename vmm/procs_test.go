package vmm

import (
	"os"
	"os/exec"
	"testing"

	"github.com/nucbox/nucbox/test/ci"
)

func TestLookBinaryWithoutPATH(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		ci.Missing(t, "no sh in PATH")
	}
	t.Setenv("PATH", "")
	if got := lookBinary("sh"); got == "sh" {
		t.Errorf("sh not found without PATH (it is at %s)", sh)
	} else if _, err := os.Stat(got); err != nil {
		t.Errorf("lookBinary(sh) = %s: %v", got, err)
	}
	if got := lookBinary("./x/qemu"); got != "./x/qemu" {
		t.Errorf("a path was rewritten to %s", got)
	}
	if got := lookBinary("no-such-binary-anywhere"); got != "no-such-binary-anywhere" {
		t.Errorf("got %s", got)
	}
}
