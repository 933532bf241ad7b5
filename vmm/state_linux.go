package vmm

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// StateDirWarning returns a warning when dir lives in RAM (tmpfs, ramfs or
// the initramfs itself): guests run fine there, but their disks vanish at
// the next boot, which nobody expects from a qcow2 file. It returns "" for
// persistent storage and when the file system cannot be determined.
func StateDirWarning(dir string) string {
	if dir == "" {
		return ""
	}
	// The directory may not exist yet; the file system it will be created
	// on is that of its nearest existing ancestor.
	p := filepath.Clean(dir)
	for {
		if _, err := os.Stat(p); err == nil {
			break
		}
		parent := filepath.Dir(p)
		if parent == p {
			return ""
		}
		p = parent
	}
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return ""
	}
	switch st.Type {
	case unix.TMPFS_MAGIC, unix.RAMFS_MAGIC:
		return fmt.Sprintf("state-dir %s is in RAM: VM disks and logs will not survive a reboot", dir)
	}
	return ""
}
