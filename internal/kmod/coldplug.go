package kmod

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Coldplug does at boot what udev does for devices that appeared before
// it ran: every device in sysfs publishes a modalias string, modules.alias
// maps glob patterns over those strings to driver modules, and loading a
// match binds the driver. A driver can reveal new devices (virtio_pci
// creates the virtio devices that virtio_net drives), so the scan repeats
// until a round loads nothing new. The devices a driver reveals sit below
// the device it drives, so a later round scans only below the devices
// whose drivers the round before loaded: the whole of /sys/devices is
// thousands of directories, a quarter of a second to walk under TCG. The
// first round does not walk it either: it reads the devices that sysfs's
// bus and class indexes list (indexedDevices).

const coldplugRounds = 4

// readModaliases returns the distinct modalias strings of the devices
// under root (/sys/devices). Symlinks are not followed, so every device is
// seen once, at its real place in the tree.
func readModaliases(root string) []string {
	found := scanModaliases([]string{root})
	out := make([]string, 0, len(found))
	for s := range found {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// scanModaliases maps the modalias strings of the devices under roots to
// the directories of the devices that publish them.
func scanModaliases(roots []string) map[string][]string {
	found := map[string][]string{}
	for _, root := range roots {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // devices come and go under a walk; skip, do not stop
			}
			if d.Name() != "modalias" || d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			if s := strings.TrimSpace(string(b)); s != "" {
				found[s] = append(found[s], filepath.Dir(path))
			}
			return nil
		})
	}
	return found
}

// indexedDevices are the directories below root (/sys/devices) of the
// devices that sysfs lists in its bus and class indexes beside root
// (/sys/bus/*/devices, /sys/class/*): every device a module alias can
// match is on a bus (pci, usb, acpi, platform, virtio, scsi...) or, like
// the input devices, in a class. Reading their modalias files costs a
// glob and a readlink per device, where a walk of root reads thousands
// of directories (on a 2-core host, natively, 1 to 5 ms against 8 to 14;
// ten times that under TCG, at the boot's busiest). nil when root has no
// such indexes beside it.
func indexedDevices(root string) []string {
	sys := filepath.Dir(root)
	seen := map[string]bool{}
	var out []string
	for _, pattern := range []string{"bus/*/devices/*", "class/*/*"} {
		links, _ := filepath.Glob(filepath.Join(sys, pattern))
		for _, l := range links {
			// Each entry is a link into the tree, relative in sysfs;
			// one readlink, where resolving it a component at a time
			// would cost a stat per component.
			target, err := os.Readlink(l)
			if err != nil {
				continue
			}
			dir := target
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(filepath.Dir(l), target)
			}
			if seen[dir] || !strings.HasPrefix(dir, root+"/") {
				continue
			}
			seen[dir] = true
			out = append(out, dir)
		}
	}
	return out
}

// readIndexed maps the modalias strings of the devices in dirs to their
// directories.
func readIndexed(dirs []string) map[string][]string {
	found := map[string][]string{}
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "modalias"))
		if err != nil {
			continue // devices come and go
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			found[s] = append(found[s], dir)
		}
	}
	return found
}

// Coldplug loads the drivers for the devices present and returns the
// modules it loaded and a warning for each driver that failed.
func (l *Loader) Coldplug() (loaded []string, warnings []error) { return l.ColdplugExcept(nil) }

// ColdplugExcept is Coldplug leaving out the devices whose modalias skip
// accepts: their drivers can wait (the CPU's, which bring KVM, until a
// guest needs it), and LoadFor loads them later.
func (l *Loader) ColdplugExcept(skip func(modalias string) bool) (loaded []string, warnings []error) {
	return l.coldplug([]string{l.sysDevices}, skip)
}

// ColdplugUnder is Coldplug for the devices in the given device
// directories and below them only: a driver that is wanted early, or
// beside the rest, without a walk of the whole tree.
func (l *Loader) ColdplugUnder(dirs []string) (loaded []string, warnings []error) {
	if len(dirs) == 0 {
		return nil, nil
	}
	return l.coldplug(outermost(dirs), nil)
}

func (l *Loader) coldplug(roots []string, skip func(modalias string) bool) (loaded []string, warnings []error) {
	aliases, err := l.db.aliases()
	if err != nil {
		return nil, []error{err}
	}
	matched := map[string]bool{} // modalias strings already handled
	tried := map[string]bool{}
	for round := 0; round < coldplugRounds && len(roots) > 0; round++ {
		var found map[string][]string
		if round == 0 && len(roots) == 1 && roots[0] == l.sysDevices {
			found = readIndexed(indexedDevices(l.sysDevices))
		}
		if len(found) == 0 {
			found = scanModaliases(roots)
		}
		var want []string
		wantBy := map[string][]string{} // module -> the devices it is for
		for ma, dirs := range found {
			if matched[ma] || (skip != nil && skip(ma)) {
				continue
			}
			matched[ma] = true
			for _, m := range aliases.match(ma) {
				if !tried[m] && !l.isLoaded(m) {
					tried[m] = true
					want = append(want, m)
				}
				wantBy[m] = append(wantBy[m], dirs...)
			}
		}
		if len(want) == 0 {
			break
		}
		sort.Strings(want)
		done, errs := l.Load(want)
		loaded = append(loaded, done...)
		warnings = append(warnings, errs...)
		roots = nil
		for _, m := range done {
			roots = append(roots, wantBy[m]...)
		}
		roots = outermost(roots)
	}
	return loaded, warnings
}

// outermost drops the directories that lie below another of dirs, so
// that no subtree is walked twice.
func outermost(dirs []string) []string {
	sort.Strings(dirs)
	var out []string
	for _, d := range dirs {
		if n := len(out); n > 0 && (d == out[n-1] || strings.HasPrefix(d, out[n-1]+"/")) {
			continue
		}
		out = append(out, d)
	}
	return out
}
