package arch

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// PID 1 proper stays small: what only PID 1 does (mounts, the root,
// reaping, signals, shutdown, console, rescue, the boot phases). The box
// supervisor, the workloads and the kernel modules live in their own
// packages.
const (
	maxBootLines = 4000
	maxFileLines = 800
)

func nonBlankLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

func productFiles(p pkg) []string {
	var out []string
	for _, f := range append(append([]string(nil), p.GoFiles...), p.CgoFiles...) {
		out = append(out, filepath.Join(p.Dir, f))
	}
	return out
}

func TestBootIsSmall(t *testing.T) {
	pkgs := listPackages(t)
	boot, ok := pkgs[module+"/boot"]
	if !ok {
		t.Fatal("no boot package")
	}
	files := productFiles(boot)
	if len(files) == 0 {
		t.Fatal("boot has no product files")
	}
	total := 0
	for _, f := range files {
		total += nonBlankLines(t, f)
	}
	t.Logf("boot: %d non-blank lines in %d files", total, len(files))
	if total > maxBootLines {
		t.Errorf("boot (PID 1 proper) has %d non-blank lines, more than %d: move what is not PID 1's into its own package", total, maxBootLines)
	}
}

func TestNoLongFiles(t *testing.T) {
	pkgs := listPackages(t)
	longest, longestN := "", 0
	for _, p := range pkgs {
		for _, f := range productFiles(p) {
			n := nonBlankLines(t, f)
			if n > longestN {
				longest, longestN = f, n
			}
			if n > maxFileLines {
				rel, _ := filepath.Rel(repoRoot(t), f)
				t.Errorf("%s has %d non-blank lines, more than %d", rel, n, maxFileLines)
			}
		}
	}
	if longestN == 0 {
		t.Fatal("no product file was read")
	}
	t.Logf("longest product file: %s (%d non-blank lines)", longest, longestN)
}
