package efivars

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
		if got := DecodeString(encode(s)); got != s {
			t.Errorf("DecodeString(%q) = %q", s, got)
		}
	}
	if got := DecodeString([]byte{1, 2}); got != "" {
		t.Errorf("a short variable decoded to %q", got)
	}
}

func TestLoader(t *testing.T) {
	Dir = t.TempDir()
	os.WriteFile(filepath.Join(Dir, "LoaderEntrySelected-"+LoaderGUID), encode("nucbox-b.efi"), 0o644)
	if got, err := Loader("LoaderEntrySelected"); err != nil || got != "nucbox-b.efi" {
		t.Errorf("Loader = %q, %v", got, err)
	}
	if _, err := Loader("LoaderBootCountPath"); err == nil {
		t.Error("a missing variable read without error")
	}
}
