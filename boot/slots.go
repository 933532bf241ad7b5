package boot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nucbox/nucbox/boot/efivars"
	"github.com/nucbox/nucbox/image/esp"
	"golang.org/x/sys/unix"
)

// The A/B scheme: the ESP holds two unified kernel images,
// /EFI/Linux/nucbox-a.efi and nucbox-b.efi, and systemd-boot boots the
// one with the higher IMAGE_VERSION (a generation number). An upgrade
// writes the other slot as nucbox-X+N.efi: systemd-boot's boot counting
// renames it to +(N-1)-1 and so on at every attempt, and once no tries
// are left sorts it last, so the old slot boots again. A trial boot that
// reaches ready renames its file to drop the counter, which makes it
// good for good.

const (
	espMount = "/run/nucbox/esp"
	// defaultTrialTimeout bounds a trial boot that neither fails nor gets
	// ready: then the box reboots and the boot counter runs down.
	defaultTrialTimeout = 10 * time.Minute
)

// entryName matches a slot's file name: nucbox-a.efi, nucbox-b+2-1.efi.
var entryName = regexp.MustCompile(`^nucbox-([ab])(?:\+(\d+)(?:-(\d+))?)?\.efi$`)

// bootSlot is what the boot loader says about this boot.
type bootSlot struct {
	// Slot is a or b; empty when the box did not boot from its disk
	// through systemd-boot (PXE, QEMU -kernel, another loader).
	Slot string
	// Path is the entry's file on the ESP as the loader left it, with
	// the boot counter if it has one (\EFI\Linux\nucbox-b+2-1.efi).
	Path string
	// Trial is set when the entry still counts boots: it is an upgrade
	// that has not reached ready yet.
	Trial bool

	mu   sync.Mutex
	done bool // marked good or failed: the trial is over
	wd   *os.File
	// generation and version are the running image's, and rolledBack
	// describes the other slot when its upgrade was undone; all three
	// are read from the ESP once the box is ready.
	generation int
	version    string
	rolledBack string
}

// detectBootSlot reads systemd-boot's EFI variables.
func detectBootSlot() *bootSlot {
	s := &bootSlot{}
	if _, err := os.Stat("/sys/firmware/efi"); err != nil {
		return s
	}
	if err := mountEFIVars(); err != nil {
		Logf("upgrade: warning: %v", err)
		return s
	}
	entry, _ := efivars.Loader("LoaderEntrySelected")
	count, _ := efivars.Loader("LoaderBootCountPath")
	parseBootEntry(s, entry, count)
	switch {
	case s.Slot == "":
		if entry != "" {
			Logf("upgrade: booted entry %q is not a nucbox slot; upgrades are off", entry)
		}
	case s.Trial:
		Logf("upgrade: trial boot of slot %s (%s); it becomes the default once ready", s.Slot, s.Path)
	default:
		Logf("upgrade: booted slot %s", s.Slot)
	}
	return s
}

// parseBootEntry fills s from LoaderEntrySelected (the entry's id) and
// LoaderBootCountPath (its file while it counts boots).
func parseBootEntry(s *bootSlot, entry, countPath string) {
	name := entry
	if countPath != "" {
		name = countPath[strings.LastIndexAny(countPath, `\/`)+1:]
	}
	m := entryName.FindStringSubmatch(strings.ToLower(name))
	if m == nil {
		return
	}
	s.Slot = m[1]
	s.Path = countPath
	if s.Path == "" {
		s.Path = `\EFI\Linux\` + name
	}
	s.Trial = m[2] != ""
}

func (s *bootSlot) onTrial() bool { return s != nil && s.Trial }

// watchTrial arms the deadline of a trial boot and, when the machine has
// one, the hardware watchdog, so that a hang reboots the box too.
func (s *bootSlot) watchTrial() {
	if !s.onTrial() {
		return
	}
	timeout := defaultTrialTimeout
	if cl, err := ReadCmdline(); err == nil {
		if v, ok := cl.Get("nucbox.trial-timeout"); ok {
			if d, err := time.ParseDuration(v); err == nil && d > 0 {
				timeout = d
			}
		}
	}
	if wd, err := os.OpenFile("/dev/watchdog", os.O_WRONLY, 0); err == nil {
		s.mu.Lock()
		s.wd = wd
		s.mu.Unlock()
		Logf("upgrade: hardware watchdog armed until ready")
		goSafe("watchdog", func() {
			for {
				s.mu.Lock()
				if s.wd == nil {
					s.mu.Unlock()
					return
				}
				s.wd.Write([]byte{0})
				s.mu.Unlock()
				time.Sleep(5 * time.Second)
			}
		})
	}
	time.AfterFunc(timeout, func() {
		defer recoverLog("upgrade")
		if s.finish() {
			Logf("upgrade: trial boot of slot %s not ready after %s; rebooting so the boot loader falls back", s.Slot, timeout)
			Shutdown(Reboot, "trial boot timed out")
		}
	})
}

// finish ends the trial once; it reports whether this call ended it.
func (s *bootSlot) finish() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return false
	}
	s.done = true
	if s.wd != nil {
		// The magic close: the watchdog stops instead of firing.
		s.wd.Write([]byte("V"))
		s.wd.Close()
		s.wd = nil
	}
	return true
}

// fail ends a trial boot that failed: reboot at once, so the boot
// counter runs down instead of the box sitting in a rescue shell on a
// version that does not work.
func (s *bootSlot) fail(stage string) {
	if !s.onTrial() || !s.finish() {
		return
	}
	Logf("upgrade: trial boot of slot %s failed at %s; rebooting so the boot loader falls back", s.Slot, stage)
	Shutdown(Reboot, "trial boot failed")
}

// markGood makes a trial boot that reached ready the default for good by
// dropping the boot counter from its file name, and reports an upgrade
// that was rolled back.
func (s *bootSlot) markGood() {
	if s == nil || s.Slot == "" {
		return
	}
	defer recoverLog("upgrade")
	trial := s.onTrial() && s.finish()
	err := withESP(func(dir string) error {
		linux := filepath.Join(dir, filepath.FromSlash(esp.LinuxDir))
		if trial {
			from := filepath.Join(dir, filepath.FromSlash(strings.ReplaceAll(s.Path, `\`, "/")))
			to := filepath.Join(linux, "nucbox-"+s.Slot+".efi")
			if err := renameSynced(from, to); err != nil {
				return fmt.Errorf("marking slot %s good: %w", s.Slot, err)
			}
		}
		if gen, ver, err := slotRelease(linux, s.Slot); err == nil {
			s.mu.Lock()
			s.generation, s.version = gen, ver
			s.mu.Unlock()
		}
		if trial {
			Logf("upgrade: slot %s reached ready and is now the default", s.Slot)
		}
		other := otherSlot(s.Slot)
		if f, left := slotFile(linux, other); f != "" && left == 0 {
			msg := fmt.Sprintf("slot %s (%s) ran out of boot tries and was rolled back", other, f)
			s.mu.Lock()
			s.rolledBack = msg
			s.mu.Unlock()
			Logf("upgrade: %s; running slot %s", msg, s.Slot)
		}
		return nil
	})
	if err != nil {
		Logf("upgrade: warning: %v", err)
	}
}

func otherSlot(slot string) string {
	if slot == "a" {
		return "b"
	}
	return "a"
}

// slotFile finds slot's file in the ESP's EFI/Linux directory and the
// boot tries it has left (-1 without a counter).
func slotFile(linux, slot string) (string, int) {
	ents, _ := os.ReadDir(linux)
	for _, e := range ents {
		m := entryName.FindStringSubmatch(strings.ToLower(e.Name()))
		if m == nil || m[1] != slot {
			continue
		}
		left := -1
		if m[2] != "" {
			fmt.Sscan(m[2], &left)
		}
		return e.Name(), left
	}
	return "", -1
}

// renameSynced renames within one directory and syncs it, so the new
// name is on the stick before anything else happens.
func renameSynced(from, to string) error {
	if from == to {
		return nil
	}
	if err := os.Rename(from, to); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(to))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// espMu serialises mounting the ESP.
var espMu sync.Mutex

// withESP mounts the EFI system partition (found by its GPT partition
// name) for fn and unmounts it after: it stays unmounted while the box
// runs, so a power cut cannot leave a dirty FAT behind.
func withESP(fn func(dir string) error) error {
	espMu.Lock()
	defer espMu.Unlock()
	dev, err := findPartition(esp.ESPName)
	if err != nil {
		return err
	}
	if _, err := loadNamedModules("vfat", "nls_cp437", "nls_ascii"); err != nil {
		Logf("upgrade: warning: %v", err)
	}
	if err := os.MkdirAll(espMount, 0o700); err != nil {
		return err
	}
	if err := unix.Mount(dev, espMount, "vfat", unix.MS_NOATIME|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "flush"); err != nil {
		return fmt.Errorf("mount %s (ESP): %w", dev, err)
	}
	ferr := fn(espMount)
	unix.Sync()
	if err := unix.Unmount(espMount, 0); err != nil && ferr == nil {
		ferr = fmt.Errorf("unmount ESP: %w", err)
	}
	return ferr
}

// findPartition returns the /dev node of the partition whose GPT name is
// name, from the kernel's uevent data.
func findPartition(name string) (string, error) {
	ents, err := os.ReadDir("/sys/class/block")
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/sys/class/block", e.Name(), "uevent"))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l == "PARTNAME="+name {
				return "/dev/" + e.Name(), nil
			}
		}
	}
	return "", fmt.Errorf("no partition named %s", name)
}

// mountEFIVars makes systemd-boot's variables readable.
func mountEFIVars() error {
	if _, err := os.Stat(filepath.Join(efivars.Dir, "LoaderEntrySelected-"+efivars.LoaderGUID)); err == nil {
		return nil
	}
	if _, err := loadNamedModules("efivarfs"); err != nil {
		Logf("upgrade: warning: %v", err)
	}
	err := unix.Mount("efivarfs", efivars.Dir, "efivarfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	if err != nil && !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("mount efivarfs: %w", err)
	}
	return nil
}
