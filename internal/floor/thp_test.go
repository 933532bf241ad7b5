package floor

import (
	"os"
	"path/filepath"
	"testing"
)

// The setting goes to madvise from always, and one already madvise or
// never is left alone; a kernel without THP is no error.
func TestHugePagesOnRequest(t *testing.T) {
	for _, tc := range []struct{ now, want string }{
		{"[always] madvise never\n", "madvise"},
		{"always [madvise] never\n", "always [madvise] never\n"},
		{"always madvise [never]\n", "always madvise [never]\n"},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "enabled")
		if err := os.WriteFile(path, []byte(tc.now), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := HugePagesOnRequest(dir); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != tc.want {
			t.Errorf("from %q: %q, want %q", tc.now, b, tc.want)
		}
	}
	if err := HugePagesOnRequest(filepath.Join(t.TempDir(), "none")); err != nil {
		t.Errorf("no THP directory: %v", err)
	}
}
