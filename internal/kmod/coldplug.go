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
// until a round loads nothing new.

const coldplugRounds = 4

// readModaliases returns the distinct modalias strings of the devices
// under root (/sys/devices). Symlinks are not followed, so every device is
// seen once, at its real place in the tree.
func readModaliases(root string) []string {
	seen := map[string]bool{}
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
			seen[s] = true
		}
		return nil
	})
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Coldplug loads the drivers for the devices present and returns the
// modules it loaded and a warning for each driver that failed.
func (l *Loader) Coldplug() (loaded []string, warnings []error) {
	aliases, err := l.db.aliases()
	if err != nil {
		return nil, []error{err}
	}
	matched := map[string]bool{} // modalias strings already handled
	tried := map[string]bool{}
	for round := 0; round < coldplugRounds; round++ {
		var want []string
		for _, ma := range readModaliases(l.sysDevices) {
			if matched[ma] {
				continue
			}
			matched[ma] = true
			for _, m := range aliases.match(ma) {
				if !tried[m] && !l.isLoaded(m) {
					tried[m] = true
					want = append(want, m)
				}
			}
		}
		if len(want) == 0 {
			break
		}
		sort.Strings(want)
		done, errs := l.Load(want)
		loaded = append(loaded, done...)
		warnings = append(warnings, errs...)
	}
	return loaded, warnings
}
