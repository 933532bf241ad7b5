package slot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/nucbox/nucbox/image/esp"
	"github.com/nucbox/nucbox/image/secureboot"
	"github.com/nucbox/nucbox/internal/inject"
	"github.com/nucbox/nucbox/internal/safe"
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
	// DefaultESPMount is where the ESP is mounted while it is written.
	DefaultESPMount = "/run/nucbox/esp"
	// DefaultTrialTimeout bounds a trial boot that neither fails nor gets
	// ready: then the box reboots and the boot counter runs down.
	DefaultTrialTimeout = 10 * time.Minute
)

// entryName matches a slot's file name: nucbox-a.efi, nucbox-b+2-1.efi.
var entryName = regexp.MustCompile(`^nucbox-([ab])(?:\+(\d+)(?:-(\d+))?)?\.efi$`)

// Options is what a Slot needs from the init that runs it. The zero
// value works: no logging, no module loading, no reboots.
type Options struct {
	// Logf receives the slot's progress and warnings; nil discards them.
	Logf func(format string, args ...any)
	// LoadModules loads kernel modules by name (efivarfs, vfat); nil
	// relies on the kernel's own module loading.
	LoadModules func(names ...string) error
	// Reboot restarts the machine, so that the boot loader falls back
	// after a failed trial; nil leaves the box running.
	Reboot func(reason string)
	// TrialTimeout is how long a trial boot may take to get ready
	// (default DefaultTrialTimeout).
	TrialTimeout time.Duration
	// WatchdogTimeout is the hardware watchdogs' timeout during a trial
	// boot (default DefaultWatchdogTimeout).
	WatchdogTimeout time.Duration
	EFIVars         EFIVars
	ESPMount        string // default DefaultESPMount
	// Firmware reads SecureBoot and db (default: efivarfs at its usual
	// place).
	Firmware secureboot.Firmware
}

// Slot is what the boot loader says about this boot, and the trial and
// upgrades that follow from it. It is safe for concurrent use.
type Slot struct {
	// Name is a or b; empty when the box did not boot from its disk
	// through systemd-boot (PXE, QEMU -kernel, another loader).
	Name string
	// Path is the entry's file on the ESP as the loader left it, with
	// the boot counter if it has one (\EFI\Linux\nucbox-b+2-1.efi).
	Path string
	// Trial is set when the entry still counts boots: it is an upgrade
	// that has not reached ready yet.
	Trial bool
	// BootPartUUID is the GUID of the partition the firmware booted
	// from, upper case; empty when the loader did not say.
	BootPartUUID string
	// UEFI is set when the box booted through UEFI, and SecureBoot when
	// the firmware had Secure Boot on: then upgrades must be signed by a
	// key in the firmware's db, or the new image would not boot.
	UEFI, SecureBoot bool

	opts Options

	mu   sync.Mutex
	done bool        // marked good or failed: the trial is over
	wds  []*watchdog // armed until the trial is over
	// generation and version are the running image's, and rolledBack
	// describes the other slot when its upgrade was undone; all three
	// are read from the ESP once the box is ready.
	generation int
	version    string
	rolledBack string

	espMu sync.Mutex // serialises mounting the ESP
}

// Detect reads systemd-boot's EFI variables, mounting efivarfs if need
// be, and logs what they say about this boot.
func Detect(opts Options) *Slot {
	s := &Slot{opts: opts}
	if _, err := os.Stat("/sys/firmware/efi"); err != nil {
		return s
	}
	s.UEFI = true
	if err := s.mountEFIVars(); err != nil {
		s.logf("warning: %v", err)
		return s
	}
	s.SecureBoot = opts.Firmware.SecureBoot()
	s.logf("Secure Boot %s", onOff(s.SecureBoot))
	entry, _ := opts.EFIVars.Loader("LoaderEntrySelected")
	count, _ := opts.EFIVars.Loader("LoaderBootCountPath")
	s.BootPartUUID = opts.EFIVars.BootPartUUID()
	parseBootEntry(s, entry, count)
	switch {
	case s.Name == "":
		if entry != "" {
			s.logf("booted entry %q is not a nucbox slot; upgrades are off", entry)
		}
	case s.Trial:
		s.logf("trial boot of slot %s (%s); it becomes the default once ready", s.Name, s.Path)
	default:
		s.logf("booted slot %s", s.Name)
	}
	return s
}

func (s *Slot) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

func (s *Slot) reboot(reason string) {
	if s.opts.Reboot != nil {
		s.opts.Reboot(reason)
	}
}

func (s *Slot) loadModules(names ...string) {
	if s.opts.LoadModules == nil {
		return
	}
	if err := s.opts.LoadModules(names...); err != nil {
		s.logf("warning: %v", err)
	}
}

// recover logs a panic instead of letting it end PID 1.
func (s *Slot) recover() {
	if r := recover(); r != nil {
		s.logf("panic (recovered, PID 1 keeps running): %v\n%s", r, debug.Stack())
	}
}

// parseBootEntry fills s from LoaderEntrySelected (the entry's id) and
// LoaderBootCountPath (its file while it counts boots).
func parseBootEntry(s *Slot, entry, countPath string) {
	name := entry
	if countPath != "" {
		name = countPath[strings.LastIndexAny(countPath, `\/`)+1:]
	}
	m := entryName.FindStringSubmatch(strings.ToLower(name))
	if m == nil {
		return
	}
	s.Name = m[1]
	s.Path = countPath
	if s.Path == "" {
		s.Path = `\EFI\Linux\` + name
	}
	s.Trial = m[2] != ""
}

// OnTrial reports whether this boot is an upgrade that counts boots.
func (s *Slot) OnTrial() bool { return s != nil && s.Trial }

// WatchTrial arms the deadline of a trial boot and, when the machine has
// them, the hardware watchdogs, so that a hang reboots the box too.
// where says what the boot is doing (a phase and a stage): the reason a
// timed out trial records names it.
func (s *Slot) WatchTrial(where func() string) {
	if !s.OnTrial() {
		return
	}
	timeout := s.opts.TrialTimeout
	if timeout <= 0 {
		timeout = DefaultTrialTimeout
	}
	wdTimeout := s.opts.WatchdogTimeout
	if wdTimeout < time.Second {
		wdTimeout = DefaultWatchdogTimeout
	}
	// A pinger that died would have the watchdog reset a healthy box: it
	// is restarted after a panic. It also arms the watchdogs, and any
	// whose driver the hotplug loads later (iTCO_wdt comes after the
	// chipset's lpc_ich).
	safe.Loop(context.Background(), s.logf, "watchdog", safe.DefaultBackoff, func(context.Context) error {
		for s.feedWatchdogs(wdTimeout) {
			time.Sleep(wdTimeout / 6)
			inject.Hang("watchdog.ping", s.logf)
		}
		return nil
	})
	time.AfterFunc(timeout, func() {
		defer s.recover()
		if !s.finish() {
			return
		}
		reason := fmt.Sprintf("not ready after %s", timeout)
		if where != nil {
			if w := where(); w != "" {
				reason += ", stuck in " + w
			}
		}
		s.logf("trial boot of slot %s %s; rebooting so the boot loader falls back", s.Name, reason)
		s.recordReason(reason)
		s.reboot("trial boot timed out")
	})
}

// feedWatchdogs arms the watchdogs not armed yet and pings them all; it
// reports false once the trial is over.
func (s *Slot) feedWatchdogs(timeout time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return false
	}
	s.wds = append(s.wds, openWatchdogs(watchdogClass, s.wds, timeout, s.logf)...)
	for _, w := range s.wds {
		w.ping()
	}
	return true
}

// finish ends the trial once; it reports whether this call ended it.
func (s *Slot) finish() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return false
	}
	s.done = true
	for _, w := range s.wds {
		w.stop()
	}
	s.wds = nil
	return true
}

// Fail ends a trial boot that failed in stage with err: reboot at once,
// so the boot counter runs down instead of the box sitting in a rescue
// shell on a version that does not work.
func (s *Slot) Fail(stage string, err error) {
	if !s.OnTrial() || !s.finish() {
		return
	}
	s.logf("trial boot of slot %s failed in %s; rebooting so the boot loader falls back", s.Name, stage)
	s.recordReason(failReason(stage, err))
	s.reboot("trial boot failed")
}

// recordReason leaves on the ESP why this trial boot failed, for the
// old slot's next boot to tell.
func (s *Slot) recordReason(reason string) {
	entry := s.Path[strings.LastIndexAny(s.Path, `\/`)+1:]
	err := s.withESP(func(dir string) error { return writeReason(dir, s.Name, entry, reason) })
	if err != nil {
		s.logf("warning: recording why the trial failed: %v", err)
	}
}

// MarkGood makes a trial boot that reached ready the default for good by
// dropping the boot counter from its file name, and reports an upgrade
// that was rolled back.
func (s *Slot) MarkGood() {
	if s == nil || s.Name == "" {
		return
	}
	defer s.recover()
	trial := s.OnTrial() && s.finish()
	err := s.withESP(func(dir string) error {
		linux := filepath.Join(dir, filepath.FromSlash(esp.LinuxDir))
		if trial {
			from := filepath.Join(dir, filepath.FromSlash(strings.ReplaceAll(s.Path, `\`, "/")))
			to := filepath.Join(linux, "nucbox-"+s.Name+".efi")
			if err := renameSynced(from, to); err != nil {
				return fmt.Errorf("marking slot %s good: %w", s.Name, err)
			}
		}
		if gen, ver, err := slotRelease(linux, s.Name); err == nil {
			s.mu.Lock()
			s.generation, s.version = gen, ver
			s.mu.Unlock()
		}
		if trial {
			s.logf("slot %s reached ready and is now the default", s.Name)
		}
		if msg := rollbackReport(dir, otherSlot(s.Name), watchdogClass, s.logf); msg != "" {
			s.mu.Lock()
			s.rolledBack = msg
			s.mu.Unlock()
			s.logf("%s; running slot %s", msg, s.Name)
		}
		return nil
	})
	if err != nil {
		s.logf("warning: %v", err)
	}
}

// State is the slot the box runs from, as the status shows it.
type State struct {
	Slot       string
	Generation int
	Version    string
	Trial      bool   // a new image has not reached ready yet
	RolledBack string // an upgrade the boot loader undid
}

// State reports the running slot; ok is false when the box did not boot
// from a slot.
func (s *Slot) State() (st State, ok bool) {
	if s == nil || s.Name == "" {
		return State{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return State{Slot: s.Name, Generation: s.generation, Version: s.version, Trial: s.Trial && !s.done, RolledBack: s.rolledBack}, true
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

// withESP mounts the EFI system partition (found by its GPT partition
// name) for fn and unmounts it after: it stays unmounted while the box
// runs, so a power cut cannot leave a dirty FAT behind.
func (s *Slot) withESP(fn func(dir string) error) error {
	s.espMu.Lock()
	defer s.espMu.Unlock()
	dev, err := FindPartition(esp.ESPName)
	if err != nil {
		return err
	}
	s.loadModules("vfat", "nls_cp437", "nls_ascii")
	mnt := s.opts.ESPMount
	if mnt == "" {
		mnt = DefaultESPMount
	}
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		return err
	}
	if err := unix.Mount(dev, mnt, "vfat", unix.MS_NOATIME|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "flush"); err != nil {
		return fmt.Errorf("mount %s (ESP): %w", dev, err)
	}
	ferr := fn(mnt)
	unix.Sync()
	if err := unix.Unmount(mnt, 0); err != nil && ferr == nil {
		ferr = fmt.Errorf("unmount ESP: %w", err)
	}
	return ferr
}

// FindPartition returns the /dev node of the partition whose GPT name is
// name, from the kernel's uevent data.
func FindPartition(name string) (string, error) {
	const sysBlock = "/sys/class/block"
	ents, err := os.ReadDir(sysBlock)
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(sysBlock, e.Name(), "uevent"))
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
func (s *Slot) mountEFIVars() error {
	dir := s.opts.EFIVars.dir()
	if _, err := os.Stat(filepath.Join(dir, "LoaderEntrySelected-"+LoaderGUID)); err == nil {
		return nil
	}
	s.loadModules("efivarfs")
	err := unix.Mount("efivarfs", dir, "efivarfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	if err != nil && !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("mount efivarfs: %w", err)
	}
	return nil
}

// SecureBootState is "on" or "off" as the firmware said at boot, and ""
// when the box did not boot through UEFI.
func (s *Slot) SecureBootState() string {
	if s == nil || !s.UEFI {
		return ""
	}
	return onOff(s.SecureBoot)
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
