package datapart

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf16"
)

// loaderDevicePartUUID is the EFI variable in which systemd-boot and
// systemd-stub record the GUID of the partition they were loaded from.
const loaderDevicePartUUID = "LoaderDevicePartUUID-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"

// efivarsDir is where efivarfs is mounted; a variable for tests.
var efivarsDir = "/sys/firmware/efi/efivars"

// bootPartUUID returns the upper-case GUID of the partition the firmware
// booted from, or "" when it is not known (BIOS, PXE, efivarfs not
// mounted, a loader that does not set the variable). With two nucbox
// sticks plugged in it tells which one is the boot disk.
func bootPartUUID() string {
	b, err := os.ReadFile(filepath.Join(efivarsDir, loaderDevicePartUUID))
	if err != nil {
		return ""
	}
	return parseEFIString(b)
}

// parseEFIString decodes an efivarfs file holding a UTF-16LE string: four
// bytes of attributes, then the NUL-terminated string.
func parseEFIString(b []byte) string {
	if len(b) < 4 {
		return ""
	}
	b = b[4:]
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return strings.ToUpper(strings.TrimSpace(string(utf16.Decode(u))))
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
