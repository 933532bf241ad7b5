package datapart

import "strings"

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
