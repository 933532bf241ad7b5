package slot

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nucbox/nucbox/image/esp"
	"github.com/nucbox/nucbox/internal/atomicfile"
)

// Why a trial boot was rolled back is told by the boot that fails, when
// it can, and read by the next boot of the old slot. A trial boot whose
// PID 1 still runs (a stage failed, or nothing was ready in time) writes
// the reason to the ESP before it reboots: reasonDir/rollback-X.txt, the
// boot's entry file name on the first line (nucbox-b+0-1.efi), the reason
// on the second. The name ties the reason to that one attempt: a later
// attempt of the same slot that dies without a word does not inherit it.
// A boot whose PID 1 was wedged says nothing; the next boot then asks the
// watchdogs whether one of them reset the machine.

// reasonDir holds the reasons on the ESP, beside the boot loader's files.
const reasonDir = "/EFI/nucbox"

// noReason is what the old slot says when the failed boot left no reason
// and no watchdog reset the machine: a kernel panic, an init that never
// ran, a power cut or a reset button.
const noReason = "it never reached ready and recorded no reason: its kernel or init died, or the machine was reset, before PID 1 could"

func reasonFile(esp, slot string) string {
	return filepath.Join(esp, filepath.FromSlash(reasonDir), "rollback-"+slot+".txt")
}

// writeReason records why the boot of slot's entry file failed.
func writeReason(esp, slot, entry, reason string) error {
	p := reasonFile(esp, slot)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	reason = strings.Join(strings.Fields(reason), " ")
	return atomicfile.WriteFile(p, []byte(entry+"\n"+reason+"\n"), 0o600)
}

// readReason is the reason recorded for slot's entry file, "" when none
// was, or one was for another attempt.
func readReason(esp, slot, entry string) string {
	b, err := os.ReadFile(reasonFile(esp, slot))
	if err != nil {
		return ""
	}
	name, reason, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if !strings.EqualFold(strings.TrimSpace(name), entry) {
		return ""
	}
	return strings.TrimSpace(reason)
}

// rollbackReason says why slot, whose entry file is now entry with no
// tries left, was rolled back: the reason its boot recorded, else a
// watchdog's reset (found is then set, so that the caller records it for
// the boots after this one, when the watchdog no longer says so), else
// noReason.
func rollbackReason(esp, slot, entry, wdClass string) (reason string, found bool) {
	if r := readReason(esp, slot, entry); r != "" {
		return r, false
	}
	if wd := watchdogReset(wdClass); wd != "" {
		return fmt.Sprintf("the hardware watchdog %s reset the machine (PID 1 stopped feeding it)", wd), true
	}
	return noReason, false
}

// failReason is a failed stage's reason, on one line and short: the
// console and the status have the whole error.
func failReason(stage string, err error) string {
	msg := "failed in " + stage
	if err != nil {
		first, _, _ := strings.Cut(err.Error(), "\n")
		if len(first) > 200 {
			first = first[:200] + "..."
		}
		msg += ": " + first
	}
	return msg
}

// rollbackReport describes slot when the boot loader rolled it back (its
// file on the ESP mounted at dir has no tries left), with the generation and the
// reason; "" when it was not.
func rollbackReport(dir, slot, wdClass string, logf func(string, ...any)) string {
	linux := filepath.Join(dir, filepath.FromSlash(esp.LinuxDir))
	f, left := slotFile(linux, slot)
	if f == "" || left != 0 {
		return ""
	}
	reason, found := rollbackReason(dir, slot, f, wdClass)
	if found {
		// The watchdog says so on this boot only.
		if err := writeReason(dir, slot, f, reason); err != nil {
			logf("warning: recording why slot %s was rolled back: %v", slot, err)
		}
	}
	what := f
	if gen, _, err := slotRelease(linux, slot); err == nil {
		what = fmt.Sprintf("generation %d", gen)
	}
	return fmt.Sprintf("slot %s (%s) was rolled back: %s", slot, what, reason)
}
