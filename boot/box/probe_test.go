package box

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFirstNameserver reads a container's resolv.conf inside its root: a
// symlink the tenant points outside its root does not leak the box's file.
func TestFirstNameserver(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "box-resolv.conf")
	if err := os.WriteFile(outside, []byte("nameserver 9.9.9.9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mk := func(content string, link string) string {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, "etc", "resolv.conf")
		if link != "" {
			if err := os.Symlink(link, p); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return root
	}
	tests := []struct {
		name, root, want string
	}{
		{"first IPv4", mk("# lab\nsearch lab\nnameserver fd00::1\nnameserver 10.0.10.1\nnameserver 10.0.10.2\n", ""), "10.0.10.1"},
		{"none", mk("search lab\n", ""), ""},
		{"garbage", mk("nameserver not-an-address\n", ""), ""},
		{"symlink out of the root", mk("", outside), ""},
		{"relative symlink up and out", mk("", "../../../../../../.."+outside), ""},
	}
	for _, tt := range tests {
		if got := firstNameserver(tt.root); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	// Positive control: the same file read through a path inside the root.
	root := mk("", "/etc/real.conf")
	if err := os.WriteFile(filepath.Join(root, "etc", "real.conf"), []byte("nameserver 10.0.20.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := firstNameserver(root); got != "10.0.20.1" {
		t.Errorf("a symlink inside the root: %q, want 10.0.20.1", got)
	}
}
