package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/image"
	"github.com/nucbox/nucbox/image/uki"
	"github.com/nucbox/nucbox/test/harness"
)

// TestUpgradeRollback upgrades a box booted from its stick three times to
// an image that never gets ready, and each time the old slot boots again
// by itself and says why in its status: an image whose kernel panics (the
// boot loader's counter runs out), one whose boot hangs in a stage (the
// trial timeout reboots), and one whose boot hangs and whose PID 1 also
// stops feeding the watchdog (QEMU's i6300esb resets the machine). The
// three share the first boot; the hangs cost under a minute each.
func TestUpgradeRollback(t *testing.T) {
	harness.Require(t)
	disk := stickImage(t, usbConfig, 1<<30)
	bad := badUKI(t)
	hang, wedge := hangingUKIs(t)
	m := bootStick(t, disk, func(o *harness.Options) { o.Extra = append(o.Extra, "-device", "i6300esb") })
	m.MustExpect(firmwareReadyTimeout, `nucbox: upgrade: booted slot a\b`)
	remote, _ := apiReady(t, m, firmwareReadyTimeout)
	bin := harness.Nucbox(t)
	upgrade := func(image string) time.Time {
		t.Helper()
		stdout, stderr, code := cliRetry(t, bin, append([]string{"upgrade", image, "--tries", "1"}, remote...)...)
		if code != 0 {
			t.Fatalf("nucbox upgrade: exit %d\n%s%s", code, stdout, stderr)
		}
		m.MustExpect(time.Minute, `nucbox: upgrade: wrote nucbox-b\+1\.efi .*generation 2`)
		return time.Now()
	}
	// rolledBack waits for slot a to be ready again and checks that it
	// says why slot b was rolled back, on the console and in the status.
	rolledBack := func(why string) {
		t.Helper()
		m.MustExpect(rollbackTimeout, `nucbox: upgrade: booted slot a\b`)
		m.ExpectReady(firmwareReadyTimeout)
		m.MustExpect(time.Minute, `nucbox: upgrade: slot b \(generation 2\) was rolled back: `+why+`; running slot a`)
		stdout, _, code := cli(t, bin, append([]string{"status", "-o", "json"}, remote...)...)
		var st api.Status
		if err := json.Unmarshal([]byte(stdout), &st); code != 0 || err != nil {
			t.Fatalf("status: exit %d, %v\n%s", code, err, stdout)
		}
		if sl := st.Slot; sl == nil || sl.Slot != "a" || sl.Generation != 1 || !regexp.MustCompile(`^slot b \(generation 2\) was rolled back: `+why+`$`).MatchString(sl.RolledBack) {
			t.Errorf("status boot slot %+v, want slot a, generation 1, with slot b rolled back: %s", sl, why)
		}
		stdout, _, code = cli(t, bin, append([]string{"status"}, remote...)...)
		if code != 0 || !regexp.MustCompile(`(?m)^upgrade +slot b \(generation 2\) was rolled back: `+why+`$`).MatchString(stdout) {
			t.Errorf("nucbox status: exit %d, no upgrade line saying %s:\n%s", code, why, stdout)
		}
	}

	// The trial boot: the bad image's init exits, the kernel panics and
	// reboots; then the boot loader finds slot b out of tries. Nothing
	// of nucbox ran to say why, and no watchdog fired.
	upgrade(bad)
	m.MustExpect(rollbackTimeout, `Kernel panic|end Kernel panic`)
	rolledBack(`it never reached ready and recorded no reason: its kernel or init died, or the machine was reset, before PID 1 could`)

	// A boot that hangs in a stage with PID 1 alive: the watchdog is fed,
	// the trial timeout reboots and the reason is left on the ESP.
	start := upgrade(hang)
	m.MustExpect(firmwareReadyTimeout, `nucbox: upgrade: trial boot of slot b \(.*nucbox-b\+0-1\.efi\)`)
	m.MustExpect(time.Minute, `nucbox: upgrade: hardware watchdog watchdog\d \(i6300ESB timer\) armed until ready: it resets the machine 30 s after PID 1 stops feeding it`)
	m.MustExpect(firmwareReadyTimeout, `nucbox: injected hang at stage\.reserve: blocking for good`)
	m.MustExpect(2*time.Minute, `nucbox: upgrade: trial boot of slot b not ready after 15s, stuck in phase apply, stage reserve; rebooting`)
	rolledBack(`not ready after 15s, stuck in phase apply, stage reserve`)
	if ev := watchdogEvents(m); len(ev) > 0 {
		t.Errorf("the watchdog fired during a trial boot that fed it: %v", ev)
	}
	t.Logf("hung stage: upgrade to rolled back and ready in %s", time.Since(start).Round(time.Second))

	// A boot that hangs and whose PID 1 stops feeding the watchdog: its
	// trial timeout is 30 minutes, so only the watchdog can end it.
	start = upgrade(wedge)
	mark, fired := len(m.Output()), len(watchdogEvents(m))
	m.MustExpect(firmwareReadyTimeout, `nucbox: upgrade: trial boot of slot b \(.*nucbox-b\+0-1\.efi\)`)
	m.MustExpect(time.Minute, `nucbox: upgrade: hardware watchdog watchdog\d \(i6300ESB timer\) armed until ready`)
	m.MustExpect(time.Minute, `nucbox: upgrade: injected hang at watchdog\.ping: blocking for good`)
	rolledBack(`the hardware watchdog watchdog\d \(i6300ESB timer\) reset the machine \(PID 1 stopped feeding it\)`)
	if ev := watchdogEvents(m)[fired:]; len(ev) != 1 {
		t.Errorf("QEMU's WATCHDOG events of the wedged trial boot: %v, want one", ev)
	} else {
		t.Logf("QEMU: WATCHDOG %s", ev[0])
	}
	if out := m.Output()[mark:]; strings.Contains(out, "not ready after") || strings.Contains(out, "trial boot failed") {
		t.Errorf("PID 1 rebooted a trial boot that should have hung until the watchdog fired:\n%s", out)
	}
	t.Logf("wedged PID 1: upgrade to rolled back and ready in %s", time.Since(start).Round(time.Second))
}

// watchdogEvents are the QMP WATCHDOG events the machine sent so far.
func watchdogEvents(m *harness.Machine) []string {
	var out []string
	for _, e := range m.Events() {
		if e.Event == "WATCHDOG" {
			out = append(out, fmt.Sprint(e.Data))
		}
	}
	return out
}

// hangingUKIs are unified kernel images of a test build (tag panicinject)
// of the stick's config whose boot hangs before ready: hang in the
// reserve stage, with a trial timeout of 30 s; wedge there too, with
// the watchdog's pinger hung as well and a trial timeout of 30 minutes.
// The kernel hands NUCBOX_HANG= to PID 1's environment.
func hangingUKIs(t *testing.T) (hang, wedge string) {
	t.Helper()
	img := harness.BuildImage(t, harness.WriteConfig(t, "stick.yaml", usbConfig), harness.BuildArgs("--uki"), harness.Tagged("panicinject"))
	data, err := os.ReadFile(filepath.Join(img.Dir, image.UKIName))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, u := range []struct {
		path *string
		args string
	}{
		{&hang, "NUCBOX_HANG=stage.reserve nucbox.trial-timeout=15s"},
		{&wedge, "NUCBOX_HANG=stage.reserve,watchdog.ping nucbox.trial-timeout=30m"},
	} {
		b, err := uki.Rewrite(data, map[string][]byte{uki.Cmdline: []byte(image.DefaultCmdline + " " + u.args)})
		if err != nil {
			t.Fatal(err)
		}
		*u.path = filepath.Join(dir, strings.Fields(u.args)[0][len("NUCBOX_HANG="):]+".efi")
		if err := os.WriteFile(*u.path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return hang, wedge
}

// TestUpgradeGood upgrades a box booted from its stick to a new image of
// the same config: the trial boot reaches ready, the new slot becomes the
// default (its boot counter is gone), and it boots again without a trial.
func TestUpgradeGood(t *testing.T) {
	harness.Require(t)
	disk := stickImage(t, usbConfig, 1<<30)
	next := harness.BuildImage(t, harness.WriteConfig(t, "stick.yaml", usbConfig), harness.BuildArgs("--uki"))
	m := bootStick(t, disk)
	m.MustExpect(firmwareReadyTimeout, `nucbox: upgrade: booted slot a\b`)
	remote, _ := apiReady(t, m, firmwareReadyTimeout)
	bin := harness.Nucbox(t)

	stdout, stderr, code := cliRetry(t, bin, append([]string{"upgrade", filepath.Join(next.Dir, image.UKIName), "--tries", "2"}, remote...)...)
	if code != 0 || !strings.Contains(stdout, "rebooting into slot b") {
		t.Fatalf("nucbox upgrade: exit %d\n%s%s", code, stdout, stderr)
	}
	m.MustExpect(firmwareReadyTimeout, `nucbox: upgrade: trial boot of slot b \(.*nucbox-b\+1-1\.efi\)`)
	m.ExpectReady(firmwareReadyTimeout)
	m.MustExpect(time.Minute, `nucbox: upgrade: slot b reached ready and is now the default`)

	stdout, _, code = cli(t, bin, append([]string{"status", "-o", "json"}, remote...)...)
	var st api.Status
	if err := json.Unmarshal([]byte(stdout), &st); code != 0 || err != nil {
		t.Fatalf("status: exit %d, %v\n%s", code, err, stdout)
	}
	if sl := st.Slot; sl == nil || sl.Slot != "b" || sl.Generation != 2 || sl.Trial || sl.RolledBack != "" {
		t.Errorf("status boot slot %+v, want slot b, generation 2, not on trial", sl)
	}

	// The next boot takes slot b for good.
	if _, _, code = cli(t, bin, append([]string{"reboot"}, remote...)...); code != 0 {
		t.Fatalf("reboot: exit %d", code)
	}
	m.MustExpect(firmwareReadyTimeout, `nucbox: upgrade: booted slot b\b`)
	m.ExpectReady(firmwareReadyTimeout)
}

// badUKI is a unified kernel image of the Debian kernel with an init that
// crashes the kernel at once: an image that boots and never gets ready.
func badUKI(t *testing.T) string {
	t.Helper()
	k, err := harness.DebianKernel()
	if err != nil {
		t.Fatal(err)
	}
	initrd := harness.TinyInitramfs(t, harness.Tiny{Script: "echo bad image: crashing\necho c > /proc/sysrq-trigger\n"})
	var secs uki.Sections
	for p, dst := range map[string]*[]byte{k.Path: &secs.Linux, initrd: &secs.Initrd} {
		if *dst, err = os.ReadFile(p); err != nil {
			t.Fatal(err)
		}
	}
	stub, err := os.ReadFile(image.DefaultStub)
	if err != nil {
		t.Fatalf("the EFI stub (package systemd-boot-efi): %v", err)
	}
	secs.OSRel = uki.NewOSRelease("broken", 1).Bytes()
	secs.Cmdline = []byte("console=ttyS0,115200 panic=5")
	b, err := uki.Build(stub, secs)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "bad.efi")
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}
