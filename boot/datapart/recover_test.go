package datapart

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestFindBackups formats image files with several block sizes and checks
// that the first backup findBackups offers is the first one dumpe2fs
// lists, and that the primary superblock is never offered.
func TestFindBackups(t *testing.T) {
	requireMke2fs(t)
	for _, c := range []struct {
		name      string
		size      int64
		blockSize string
		first     backup
	}{
		{"1k blocks", 94 * mib, "1024", backup{8193, 1024}},
		{"2k blocks", 200 * mib, "2048", backup{16384, 2048}},
		{"4k blocks", 600 * mib, "4096", backup{32768, 4096}},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "fs.img")
			if err := os.WriteFile(img, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(img, c.size); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("/sbin/mke2fs", "-q", "-F", "-t", "ext4", "-b", c.blockSize, img).CombinedOutput(); err != nil {
				t.Fatalf("mke2fs: %v: %s", err, out)
			}
			offs := superblockOffsets(t, img)
			got, err := findBackups(img, c.size)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 || got[0] != c.first {
				t.Fatalf("findBackups = %+v, want %+v first", got, c.first)
			}
			listed := map[int64]bool{}
			for _, o := range offs[1:] {
				listed[o] = true
			}
			for _, b := range got {
				if !listed[b.block*b.blockSize] {
					t.Errorf("offered %+v, which dumpe2fs does not list as a backup", b)
				}
			}
			if len(got) != min(len(offs)-1, maxBackups) {
				t.Errorf("offered %d backups, dumpe2fs lists %d", len(got), len(offs)-1)
			}

			// A partition smaller than the filesystem claims to be: the
			// copies do not belong to it.
			if got, _ := findBackups(img, c.size/2); len(got) != 0 {
				t.Errorf("findBackups on a partition half the filesystem's size = %+v", got)
			}
		})
	}
}
