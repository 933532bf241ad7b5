package image

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
)

// kernelVersion reads the release string an x86 bzImage carries in its
// setup header ("6.1.0-56-amd64 (debian-kernel@...) #1 SMP ..."), and
// returns its first word. It returns "" for files that are not bzImages
// (other architectures, test fixtures): the caller then cannot check the
// kernel against its modules, which is not an error.
func kernelVersion(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("kernel: %w", err)
	}
	defer f.Close()
	hdr := make([]byte, 0x210)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return "", nil
	}
	// Boot protocol: "HdrS" at 0x202; at 0x20e a pointer to the version
	// string, relative to the end of the 512-byte boot sector.
	if string(hdr[0x202:0x206]) != "HdrS" {
		return "", nil
	}
	off := int64(binary.LittleEndian.Uint16(hdr[0x20e:])) + 0x200
	buf := make([]byte, 256)
	n, _ := f.ReadAt(buf, off)
	buf = buf[:n]
	if i := bytes.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i]
	}
	fields := strings.Fields(string(buf))
	if len(fields) == 0 {
		return "", nil
	}
	return fields[0], nil
}

// checkKernel refuses a kernel whose release differs from the modules
// directory: every module would then fail to load with "invalid module
// format", which at boot looks like missing hardware.
func checkKernel(kernel, modulesVersion string) (string, error) {
	v, err := kernelVersion(kernel)
	if err != nil {
		return "", err
	}
	if v != "" && v != modulesVersion {
		return v, fmt.Errorf("kernel %s is release %s but the modules directory is for %s", kernel, v, modulesVersion)
	}
	return v, nil
}
