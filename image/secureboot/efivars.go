package secureboot

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// DefaultEFIVarsDir is where efivarfs is mounted.
const DefaultEFIVarsDir = "/sys/firmware/efi/efivars"

// Firmware is what a running machine's firmware says about Secure Boot,
// read from efivarfs.
type Firmware struct {
	Dir string // default DefaultEFIVarsDir
}

func (f Firmware) read(name string, guid GUID) ([]byte, error) {
	dir := f.Dir
	if dir == "" {
		dir = DefaultEFIVarsDir
	}
	b, err := os.ReadFile(filepath.Join(dir, name+"-"+guid.String()))
	if err != nil {
		return nil, err
	}
	if len(b) < 4 {
		return nil, fmt.Errorf("EFI variable %s: %d bytes, no attributes", name, len(b))
	}
	return b[4:], nil // attributes first
}

// SecureBoot reports whether the machine booted with Secure Boot on. A
// machine without the variable (BIOS, efivarfs not mounted, firmware
// without Secure Boot) is off.
func (f Firmware) SecureBoot() bool {
	b, err := f.read("SecureBoot", GlobalVariable)
	return err == nil && len(b) == 1 && b[0] == 1
}

// DB returns the certificates in the db variable: the signers whose
// images the firmware boots.
func (f Firmware) DB() ([]*x509.Certificate, error) {
	b, err := f.read("db", ImageSecurityDatabase)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseSignatureLists(b)
}
