package e2e

import (
	"testing"
	"time"

	"github.com/nucbox/nucbox/test/harness"
)

// TestShellPoweroff types poweroff at the console shell. The image links
// poweroff to nucbox rather than to busybox, whose applet signals PID 1
// with SIGUSR2, which nucbox reads as reboot; under -no-reboot a reboot
// would also end QEMU, so the test checks which of the two happened.
func TestShellPoweroff(t *testing.T) {
	harness.Require(t)
	m, _ := bootBasic(t)

	m.MustExpect(shellTimeout, `press Enter for a shell`)
	if err := m.Send("\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ExpectPrompt(shellTimeout, harness.ShellPromptPattern); err != nil {
		t.Fatalf("no shell prompt: %v", err)
	}
	if err := m.Send("poweroff\n"); err != nil {
		t.Fatal(err)
	}
	if err := m.WaitExit(powerOffTimeout); err != nil {
		t.Fatalf("after poweroff at the shell: %v", err)
	}
	m.MustExpect(time.Second, harness.PoweringOffPattern)
	m.MustExpect(time.Second, `reboot: Power down`)
	if ev, err := m.WaitEvent(time.Second, "SHUTDOWN"); err != nil {
		t.Errorf("QMP: %v", err)
	} else if ev.Data["reason"] != "guest-shutdown" {
		t.Errorf("SHUTDOWN reason %v, want guest-shutdown", ev.Data["reason"])
	}
}
