package slot

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf16"
)

func encode(s string) []byte {
	b := []byte{6, 0, 0, 0} // attributes
	for _, c := range utf16.Encode([]rune(s)) {
		b = append(b, byte(c), byte(c>>8))
	}
	return append(b, 0, 0)
}

func TestDecodeString(t *testing.T) {
	for _, s := range []string{"nucbox-a.efi", `\EFI\Linux\nucbox-b+2-1.efi`, "1f2e3d4c-0000-4000-8000-00000000abcd", ""} {
		if got := decodeString(encode(s)); got != s {
			t.Errorf("decodeString(%q) = %q", s, got)
		}
	}
	if got := decodeString([]byte{1, 2}); got != "" {
		t.Errorf("a short variable decoded to %q", got)
	}
}

func TestLoader(t *testing.T) {
	v := EFIVars{Dir: t.TempDir()}
	os.WriteFile(filepath.Join(v.Dir, "LoaderEntrySelected-"+LoaderGUID), encode("nucbox-b.efi"), 0o644)
	if got, err := v.Loader("LoaderEntrySelected"); err != nil || got != "nucbox-b.efi" {
		t.Errorf("Loader = %q, %v", got, err)
	}
	if _, err := v.Loader("LoaderBootCountPath"); err == nil {
		t.Error("a missing variable read without error")
	}
}

func TestBootPartUUID(t *testing.T) {
	v := EFIVars{Dir: t.TempDir()}
	if got := v.BootPartUUID(); got != "" {
		t.Errorf("without the variable: %q", got)
	}
	b := []byte{6, 0, 0, 0}
	for _, r := range "1f2e3d4c-0000-4000-8000-00000000abcd" {
		b = append(b, byte(r), 0)
	}
	b = append(b, 0, 0)
	os.WriteFile(filepath.Join(v.Dir, "LoaderDevicePartUUID-"+LoaderGUID), b, 0o644)
	if got := v.BootPartUUID(); got != "1F2E3D4C-0000-4000-8000-00000000ABCD" {
		t.Errorf("BootPartUUID = %q", got)
	}
}
