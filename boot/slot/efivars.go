package slot

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf16"
)

// LoaderGUID is the vendor GUID of systemd-boot's variables.
const LoaderGUID = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"

// DefaultEFIVarsDir is where efivarfs is mounted.
const DefaultEFIVarsDir = "/sys/firmware/efi/efivars"

// EFIVars reads the boot loader's variables from efivarfs: systemd-boot
// and its stub record there which entry booted, from which partition,
// and the entry's boot-counting file.
type EFIVars struct {
	Dir string // default DefaultEFIVarsDir
}

func (v EFIVars) dir() string {
	if v.Dir == "" {
		return DefaultEFIVarsDir
	}
	return v.Dir
}

// Loader reads one of systemd-boot's string variables by name, such as
// LoaderEntrySelected.
func (v EFIVars) Loader(name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(v.dir(), name+"-"+LoaderGUID))
	if err != nil {
		return "", err
	}
	return decodeString(b), nil
}

// BootPartUUID returns the upper-case GUID of the partition the firmware
// booted from (systemd-boot's LoaderDevicePartUUID), or "" when it is not
// known (BIOS, PXE, efivarfs not mounted, a loader that does not set the
// variable). With two nucbox sticks plugged in it tells which one is the
// boot disk.
func (v EFIVars) BootPartUUID() string {
	s, err := v.Loader("LoaderDevicePartUUID")
	if err != nil {
		return ""
	}
	return strings.ToUpper(strings.TrimSpace(s))
}

// decodeString decodes an efivarfs file holding a string: four bytes of
// attributes, then NUL-terminated UTF-16LE.
func decodeString(b []byte) string {
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
	return string(utf16.Decode(u))
}
