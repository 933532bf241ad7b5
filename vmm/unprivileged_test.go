package vmm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What a VM's user may open is read from the mode bits along the path:
// the file's (owner, group or other, whichever applies) and search on
// every directory.
func TestReadableByVMUser(t *testing.T) {
	dir := t.TempDir()
	openDirs(t, dir)
	me := uint32(os.Getuid())
	other := &User{UID: me + 12345, GID: uint32(os.Getgid()) + 12345}
	owner := &User{UID: me, GID: uint32(os.Getgid())}
	file := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pub, priv := file("pub", 0o644), file("priv", 0o600)
	if err := readable("kernel", pub, other, false); err != nil {
		t.Errorf("a 0644 file: %v", err)
	}
	if err := readable("disk 0", pub, other, true); err == nil || !strings.Contains(err.Error(), "to read and write") {
		t.Errorf("writing a 0644 file of another user: %v", err)
	}
	if err := readable("disk 0", pub, owner, true); err != nil {
		t.Errorf("its owner writing a 0644 file: %v", err)
	}
	err := readable("initrd", priv, other, false)
	if err == nil || !strings.Contains(err.Error(), "initrd: "+priv+" (mode 0600") {
		t.Errorf("a 0600 file of another user: %v", err)
	}
	sub := filepath.Join(dir, "closed")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	inner := filepath.Join(sub, "f")
	if err := os.WriteFile(inner, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := readable("cdrom 0", inner, other, false); err == nil || !strings.Contains(err.Error(), sub+" (mode 0700") || !strings.Contains(err.Error(), "to search") {
		t.Errorf("a file in a 0700 directory: %v", err)
	}
}
