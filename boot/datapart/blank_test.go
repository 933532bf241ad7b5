package datapart

import (
	"bytes"
	"os"
	"testing"
)

// TestCreateClearsFirstMiB: writing the table that creates the data
// partition zeroes its first MiB first, so a power cut before mke2fs
// leaves a partition the next boot recognises as blank.
func TestCreateClearsFirstMiB(t *testing.T) {
	img := makeImage(t, 512, 128*mib, 128*mib, esp)
	stale := []byte("stale bytes in unallocated space")
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range []int64{33 * mib, 33*mib + mib - int64(len(stale)), 33*mib + mib} {
		if _, err := f.WriteAt(stale, off); err != nil {
			t.Fatal(err)
		}
	}
	tab := readTable(t, img, 512)
	pl, err := planDisk(tab, 128*mib)
	if err != nil || pl.action != create {
		t.Fatalf("plan = %+v, %v; want create", pl, err)
	}
	if err := writeTable(f, tab, 128*mib, pl); err != nil {
		t.Fatal(err)
	}
	if int64(pl.part.Start)*512 != 33*mib {
		t.Fatalf("partition starts at %d, want 33 MiB", pl.part.Start*512)
	}
	b := make([]byte, mib+int64(len(stale)))
	if _, err := f.ReadAt(b, 33*mib); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[:mib], make([]byte, mib)) {
		t.Error("the new partition's first MiB still holds stale bytes")
	}
	if !bytes.Equal(b[mib:], stale) {
		t.Error("bytes past the first MiB were changed")
	}
}

func TestIsBlank(t *testing.T) {
	for _, c := range []struct {
		name  string
		size  int64
		at    int64 // where a non-zero byte goes; -1 for none
		blank bool
	}{
		{"zeros", 4 * mib, -1, true},
		{"smaller than a MiB, zeros", 4096, -1, true},
		{"byte at start", 4 * mib, 0, false},
		{"last byte of the first MiB", 4 * mib, mib - 1, false},
		{"first byte after it", 4 * mib, mib, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := t.TempDir() + "/part"
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, c.size); err != nil {
				t.Fatal(err)
			}
			if c.at >= 0 {
				f, _ := os.OpenFile(p, os.O_WRONLY, 0)
				f.WriteAt([]byte{1}, c.at)
				f.Close()
			}
			if got, err := isBlank(p); err != nil || got != c.blank {
				t.Errorf("isBlank = %v, %v; want %v", got, err, c.blank)
			}
		})
	}
}
