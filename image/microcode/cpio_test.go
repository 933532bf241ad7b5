package microcode

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"
)

// fakeTree writes vendor files under root/lib/firmware, each holding its
// own name so that order and omissions show in the concatenation.
func fakeTree(t *testing.T, files ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, "lib/firmware", f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("<"+f+">"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// members reads an archive into name -> record and name -> contents,
// failing on anything that is not plain uncompressed newc.
func members(t *testing.T, a []byte) (map[string]cpio.Record, map[string]string, []string) {
	t.Helper()
	if !bytes.HasPrefix(a, []byte("070701")) {
		t.Fatalf("archive starts %q, want the newc magic 070701", a[:min(6, len(a))])
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(a)))
	if err != nil {
		t.Fatal(err)
	}
	byName, data := map[string]cpio.Record{}, map[string]string{}
	var order []string
	for _, r := range recs {
		byName[r.Name] = r
		order = append(order, r.Name)
		if r.Mode&cpio.S_IFMT == cpio.S_IFREG {
			b, err := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
			if err != nil {
				t.Fatal(err)
			}
			data[r.Name] = string(b)
		}
	}
	return byName, data, order
}

func TestArchive(t *testing.T) {
	root := fakeTree(t,
		// Written out of order: the archive sorts by name.
		"intel-ucode/06-9e-0a", "intel-ucode/06-55-04", "intel-ucode/06-8f-08",
		"amd-ucode/microcode_amd_fam19h.bin", "amd-ucode/microcode_amd.bin",
		"amd-ucode/microcode_amd_fam19h.bin.asc", // a signature, not microcode
		"amd/amd_sev_fam19h_model0xh.sbin",       // not under amd-ucode
	)
	a, parts, err := Archive(root, 1700000000)
	if err != nil {
		t.Fatal(err)
	}
	recs, data, order := members(t, a)
	wantIntel := "<intel-ucode/06-55-04><intel-ucode/06-8f-08><intel-ucode/06-9e-0a>"
	wantAMD := "<amd-ucode/microcode_amd.bin><amd-ucode/microcode_amd_fam19h.bin>"
	if data[Intel] != wantIntel {
		t.Errorf("%s = %q, want %q", Intel, data[Intel], wantIntel)
	}
	if data[AMD] != wantAMD {
		t.Errorf("%s = %q, want %q", AMD, data[AMD], wantAMD)
	}
	if len(data) != 2 {
		t.Errorf("archive files %v, want only %s and %s", order, Intel, AMD)
	}
	// Parents come before the files so that unpacking the archive into
	// the root file system (the kernel does, after the early loader)
	// creates them.
	wantOrder := []string{"kernel", "kernel/x86", Dir, Intel, AMD}
	if strings.Join(order, " ") != strings.Join(wantOrder, " ") {
		t.Errorf("records %v, want %v", order, wantOrder)
	}
	if !bytes.Contains(a[len(a)-128:], []byte(cpio.Trailer)) || len(a)%4 != 0 {
		t.Errorf("archive of %d bytes does not end in a padded %s record", len(a), cpio.Trailer)
	}
	for _, n := range order[:5] {
		if r := recs[n]; r.MTime != 1700000000 || r.UID != 0 || r.GID != 0 {
			t.Errorf("%s: mtime %d uid %d gid %d, want 1700000000, 0, 0", n, r.MTime, r.UID, r.GID)
		}
	}
	want := []Part{{Intel, 3, int64(len(wantIntel))}, {AMD, 2, int64(len(wantAMD))}}
	if len(parts) != 2 || parts[0] != want[0] || parts[1] != want[1] {
		t.Errorf("parts %+v, want %+v", parts, want)
	}

	// The same tree gives the same bytes, even when its files are newer
	// and live elsewhere; another time stamp gives other bytes.
	again := fakeTree(t, "amd-ucode/microcode_amd.bin", "amd-ucode/microcode_amd_fam19h.bin",
		"intel-ucode/06-8f-08", "intel-ucode/06-9e-0a", "intel-ucode/06-55-04")
	b, _, err := Archive(again, 1700000000)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two archives of the same files differ")
	}
	if c, _, _ := Archive(root, 1700000001); bytes.Equal(a, c) {
		t.Error("the time stamp is not in the archive")
	}
}

func TestArchiveOneVendor(t *testing.T) {
	// After the /usr merge the firmware is under usr/lib.
	root := t.TempDir()
	p := filepath.Join(root, "usr/lib/firmware/amd-ucode/microcode_amd.bin")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte("amd"), 0o644)
	a, parts, err := Archive(root, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, data, _ := members(t, a)
	if _, ok := data[Intel]; ok || data[AMD] != "amd" || len(parts) != 1 {
		t.Errorf("files %v, parts %+v: want only %s", data, parts, AMD)
	}

	if _, _, err := Archive(t.TempDir(), 0); err == nil || !strings.Contains(err.Error(), "neither intel-ucode nor amd-ucode") {
		t.Errorf("a tree without microcode: err = %v", err)
	}
}
