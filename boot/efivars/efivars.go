package efivars

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"unicode/utf16"
)

// LoaderGUID is the vendor GUID of systemd-boot's variables.
const LoaderGUID = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"

// Dir is where efivarfs is mounted; a variable for tests.
var Dir = "/sys/firmware/efi/efivars"

// Loader reads one of systemd-boot's string variables by name, such as
// LoaderEntrySelected.
func Loader(name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(Dir, name+"-"+LoaderGUID))
	if err != nil {
		return "", err
	}
	return DecodeString(b), nil
}

// DecodeString decodes an efivarfs file holding a string: four bytes of
// attributes, then NUL-terminated UTF-16LE.
func DecodeString(b []byte) string {
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
