package datapart

import (
	"strings"

	"github.com/nucbox/nucbox/boot/efivars"
)

// bootPartUUID returns the upper-case GUID of the partition the firmware
// booted from (systemd-boot's LoaderDevicePartUUID), or "" when it is not
// known (BIOS, PXE, efivarfs not mounted, a loader that does not set the
// variable). With two nucbox sticks plugged in it tells which one is the
// boot disk.
func bootPartUUID() string {
	v, err := efivars.Loader("LoaderDevicePartUUID")
	if err != nil {
		return ""
	}
	return strings.ToUpper(strings.TrimSpace(v))
}

// holdsPartUUID reports whether d has a partition with GUID uuid.
func (d *disk) holdsPartUUID(uuid string) bool {
	if d.table == nil || uuid == "" {
		return false
	}
	for _, p := range d.table.Partitions {
		if strings.EqualFold(p.GUID, uuid) {
			return true
		}
	}
	return false
}

// bootFirst orders disks so that the one the firmware booted from comes
// first and disks with a nucbox ESP come before others; otherwise by name.
func bootFirst(disks []*disk, bootUUID string) []*disk {
	rank := func(d *disk) int {
		switch {
		case d.holdsPartUUID(bootUUID):
			return 0
		case d.has(ESPName):
			return 1
		}
		return 2
	}
	out := append([]*disk(nil), disks...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && rank(out[j]) < rank(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
