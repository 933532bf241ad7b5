package slot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeESP makes an ESP directory with slot files named in files.
func fakeESP(t *testing.T, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	linux := filepath.Join(dir, "EFI", "Linux")
	if err := os.MkdirAll(linux, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(linux, f), []byte("not a PE file"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fakeWatchdogs makes a /sys/class/watchdog with one device per
// bootstatus given.
func fakeWatchdogs(t *testing.T, bootstatus ...string) string {
	t.Helper()
	class := t.TempDir()
	for i, bs := range bootstatus {
		d := filepath.Join(class, "watchdog"+string(rune('0'+i)))
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "bootstatus"), []byte(bs+"\n"), 0o644)
		os.WriteFile(filepath.Join(d, "identity"), []byte("i6300ESB timer\n"), 0o644)
	}
	return class
}

func TestReasonIsTiedToItsAttempt(t *testing.T) {
	esp := fakeESP(t)
	if r := readReason(esp, "b", "nucbox-b+0-1.efi"); r != "" {
		t.Fatalf("a reason with none recorded: %q", r)
	}
	if err := writeReason(esp, "b", "nucbox-b+0-1.efi", "not ready after 1m0s,\n stuck in phase apply"); err != nil {
		t.Fatal(err)
	}
	if r := readReason(esp, "b", "NUCBOX-B+0-1.EFI"); r != "not ready after 1m0s, stuck in phase apply" {
		t.Errorf("recorded reason read back as %q", r)
	}
	// Another attempt of the same slot did not record it.
	if r := readReason(esp, "b", "nucbox-b+0-2.efi"); r != "" {
		t.Errorf("another attempt's reason read: %q", r)
	}
	if r := readReason(esp, "a", "nucbox-b+0-1.efi"); r != "" {
		t.Errorf("another slot's reason read: %q", r)
	}
}

func TestWatchdogReset(t *testing.T) {
	for _, tc := range []struct {
		bootstatus []string
		want       string
	}{
		{nil, ""},
		{[]string{"0"}, ""},
		{[]string{"32"}, "watchdog0 (i6300ESB timer)"},      // WDIOF_CARDRESET
		{[]string{"0", "33"}, "watchdog1 (i6300ESB timer)"}, // and WDIOF_OVERHEAT
		{[]string{"16"}, ""},                                // WDIOF_FANFAULT only
		{[]string{"garbage"}, ""},
	} {
		if got := watchdogReset(fakeWatchdogs(t, tc.bootstatus...)); got != tc.want {
			t.Errorf("bootstatus %v: %q, want %q", tc.bootstatus, got, tc.want)
		}
	}
}

// TestRollbackReport: the old slot says why the other was rolled back:
// what the failed boot recorded, else a watchdog's reset (kept for the
// boots after), else that nothing said; and nothing while the other slot
// has tries left or is good.
func TestRollbackReport(t *testing.T) {
	noWD, resetWD := fakeWatchdogs(t, "0"), fakeWatchdogs(t, "32")
	var logged []string
	logf := func(f string, a ...any) { logged = append(logged, f) }

	for _, f := range []string{"nucbox-b.efi", "nucbox-b+1-1.efi"} {
		if got := rollbackReport(fakeESP(t, "nucbox-a.efi", f), "b", resetWD, logf); got != "" {
			t.Errorf("%s is not rolled back, but: %q", f, got)
		}
	}

	esp := fakeESP(t, "nucbox-a.efi", "nucbox-b+0-1.efi")
	if got, want := rollbackReport(esp, "b", noWD, logf), "slot b (nucbox-b+0-1.efi) was rolled back: "+noReason; got != want {
		t.Errorf("no reason:\n got %q\nwant %q", got, want)
	}

	wdMsg := "slot b (nucbox-b+0-1.efi) was rolled back: the hardware watchdog watchdog0 (i6300ESB timer) reset the machine (PID 1 stopped feeding it)"
	if got := rollbackReport(esp, "b", resetWD, logf); got != wdMsg {
		t.Errorf("watchdog reset:\n got %q\nwant %q", got, wdMsg)
	}
	// The next boot's watchdog says nothing; the ESP remembers.
	if got := rollbackReport(esp, "b", noWD, logf); got != wdMsg {
		t.Errorf("the boot after the watchdog reset:\n got %q\nwant %q", got, wdMsg)
	}

	esp = fakeESP(t, "nucbox-a.efi", "nucbox-b+0-1.efi")
	writeReason(esp, "b", "nucbox-b+0-1.efi", "not ready after 1m0s, stuck in phase apply, stage reserve")
	want := "slot b (nucbox-b+0-1.efi) was rolled back: not ready after 1m0s, stuck in phase apply, stage reserve"
	// What the boot recorded wins over a watchdog that fired while it
	// rebooted.
	for _, wd := range []string{noWD, resetWD} {
		if got := rollbackReport(esp, "b", wd, logf); got != want {
			t.Errorf("recorded reason:\n got %q\nwant %q", got, want)
		}
	}
	if len(logged) > 0 {
		t.Errorf("warnings: %q", logged)
	}
}

func TestFailReason(t *testing.T) {
	if got, want := failReason("stage network", errors.New("no uplink\n  eth0: no carrier")), "failed in stage network: no uplink"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if got := failReason("config", errors.New(strings.Repeat("x", 300))); len(got) > 230 || !strings.HasSuffix(got, "...") {
		t.Errorf("a long error is not cut: %d bytes", len(got))
	}
}
