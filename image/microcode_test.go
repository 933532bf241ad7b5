package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadMicrocode: which builds get the platform's microcode.
func TestLoadMicrocode(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "lib", "firmware", "intel-ucode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "06-55-04"), []byte("intel update"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	tests := []struct {
		name      string
		o         Options
		want      bool
		note, err string
	}{
		{"signed platform build", Options{Root: root, UKI: true, SignKey: "k", SignCert: "c"}, true, "from the platform", ""},
		{"unsigned platform build", Options{Root: root, UKI: true}, false, "unsigned; --microcode platform", ""},
		{"unsigned, asked", Options{Root: root, UKI: true, Microcode: MicrocodePlatform}, true, "from the platform", ""},
		{"signed, none", Options{Root: root, UKI: true, SignKey: "k", SignCert: "c", Microcode: MicrocodeNone}, false, "--microcode none", ""},
		{"no UKI", Options{Root: root, SignKey: "k", SignCert: "c"}, false, "", ""},
		{"custom kernel, signed", Options{UKI: true, SignKey: "k", SignCert: "c"}, false, "", ""},
		{"custom kernel, platform asked", Options{UKI: true, Microcode: MicrocodePlatform}, false, "", "custom kernel"},
	}
	for _, tt := range tests {
		b, note, err := tt.o.loadMicrocode()
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if (len(b) > 0) != tt.want || !strings.Contains(note, tt.note) {
			t.Errorf("%s: %d bytes, note %q; want microcode %t, note with %q", tt.name, len(b), note, tt.want, tt.note)
		}
	}
}
