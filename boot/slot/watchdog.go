package slot

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultWatchdogTimeout is the hardware watchdog's timeout during a
// trial boot: how long PID 1 may stop feeding it before the machine is
// reset. It is set explicitly, since drivers differ (i6300esb and
// iTCO_wdt default to 30 s, others to a minute or more).
const DefaultWatchdogTimeout = 30 * time.Second

// watchdogClass is where the kernel lists the watchdog devices.
const watchdogClass = "/sys/class/watchdog"

// watchdog is one watchdog device, started by opening it; f is nil when
// it could not be opened.
type watchdog struct {
	name, identity string
	f              *os.File
}

// openWatchdogs opens every watchdog the machine has but those in open
// and sets its timeout. Every one is armed, not only /dev/watchdog: under QEMU's q35
// the chipset's iTCO_wdt is there beside an i6300esb, whichever probed
// first is /dev/watchdog, and QEMU's iTCO never resets the machine.
func openWatchdogs(class string, open []*watchdog, timeout time.Duration, logf func(string, ...any)) []*watchdog {
	var out []*watchdog
	for _, name := range watchdogNames(class) {
		if slices.ContainsFunc(open, func(w *watchdog) bool { return w.name == name }) {
			continue
		}
		f, err := os.OpenFile("/dev/"+name, os.O_WRONLY, 0)
		if err != nil {
			// Kept without a file, so it is not tried again.
			logf("warning: hardware watchdog %s: %v", name, err)
			out = append(out, &watchdog{name: name})
			continue
		}
		w := &watchdog{name: name, identity: readTrimmed(filepath.Join(class, name, "identity")), f: f}
		secs := int(timeout / time.Second)
		if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.WDIOC_SETTIMEOUT, secs); err != nil {
			logf("warning: hardware watchdog %s (%s): setting its timeout to %d s: %v", name, w.identity, secs, err)
		}
		got, err := unix.IoctlGetInt(int(f.Fd()), unix.WDIOC_GETTIMEOUT)
		if err != nil {
			logf("hardware watchdog %s (%s) armed until ready; its timeout is unknown: %v", name, w.identity, err)
		} else {
			logf("hardware watchdog %s (%s) armed until ready: it resets the machine %d s after PID 1 stops feeding it", name, w.identity, got)
		}
		out = append(out, w)
	}
	return out
}

// watchdogNames lists the watchdog devices in class, watchdog0 first.
func watchdogNames(class string) []string {
	ents, _ := os.ReadDir(class)
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "watchdog") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

func (w *watchdog) ping() {
	if w.f != nil {
		w.f.Write([]byte{0})
	}
}

// stop is the magic close: the watchdog stops instead of firing.
func (w *watchdog) stop() {
	if w.f != nil {
		w.f.Write([]byte("V"))
		w.f.Close()
	}
}

// watchdogReset names the watchdog that says it reset the machine
// (WDIOF_CARDRESET in its bootstatus, as its driver read it from the
// hardware at probe), or "" when none does.
func watchdogReset(class string) string {
	for _, name := range watchdogNames(class) {
		v, err := strconv.ParseUint(readTrimmed(filepath.Join(class, name, "bootstatus")), 0, 32)
		if err == nil && v&unix.WDIOF_CARDRESET != 0 {
			if id := readTrimmed(filepath.Join(class, name, "identity")); id != "" {
				return fmt.Sprintf("%s (%s)", name, id)
			}
			return name
		}
	}
	return ""
}

func readTrimmed(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}
