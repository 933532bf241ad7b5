package benchreport

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sample() []Figure {
	return []Figure{
		{ID: "P2b", Name: "container start, back to back", Unit: "ms", Load: "idle",
			Ours: []float64{30, 32, 31}, Baseline: "runc run -d", BaseSamples: []float64{40, 41, 39}, Goal: AtMostRatio(0.8)},
		{ID: "P2a", Name: "container start | idle", Unit: "ms", Load: "idle",
			Ours: []float64{20, 22}, Baseline: "runc run -d", BaseSamples: []float64{40, 40}, Goal: AtMostRatio(0.8), Note: "pause 150 ms"},
	}
}

// TestSaveLoad: figures saved by separate benchmarks come back as one
// report, evaluated and ordered by ID; saving under the same name again
// replaces the earlier figures.
func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	if err := Save(dir, "containers", sample()...); err != nil {
		t.Fatal(err)
	}
	if err := Save(dir, "sizes", Figure{ID: "P4a", Name: "UKI", Unit: "MiB", Ours: []float64{29}, Goal: AtMost(30)}); err != nil {
		t.Fatal(err)
	}
	if err := Save(dir, "sizes", Figure{ID: "P4a", Name: "UKI", Unit: "MiB", Ours: []float64{31}, Goal: AtMost(30)}); err != nil {
		t.Fatal(err)
	}
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range r.Figures {
		ids = append(ids, f.ID+"="+string(f.Status))
	}
	if got, want := strings.Join(ids, " "), "P2a=met P2b=met P4a=MISSED"; got != want {
		t.Errorf("figures %s, want %s", got, want)
	}
	if m := strings.Join(r.Missed(), ","); m != "P4a" {
		t.Errorf("missed %q, want P4a", m)
	}

	// A group whose benchmark saved nothing is a missed row; one that
	// saved is not repeated.
	r.Expect("containers", "p6-scale", "")
	if got := r.Figures[len(r.Figures)-1]; got.ID != "P6" || got.Status != Missed || len(r.Figures) != 4 {
		t.Errorf("after Expect: %d figures, last %+v; want 4, the last P6 missed", len(r.Figures), got)
	}

	if err := os.WriteFile(filepath.Join(dir, "figures", "broken.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "broken.json") {
		t.Errorf("a broken figure file: error %v, want one naming it", err)
	}
}

// TestWriters: the Markdown, JSON and text forms carry every figure, its
// spread, ratio and verdict; a missed figure stays in the table, marked.
func TestWriters(t *testing.T) {
	dir := t.TempDir()
	r := &Report{Figures: sample(), Notes: []string{"idle box vs under load"}}
	r.Figures = append(r.Figures, Figure{ID: "P6a", Name: "PID 1 RSS", Unit: "MiB", Goal: AtMost(60)})
	r.Evaluate()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| P2a | container start \\| idle | idle | ms | 20 / 21 / 22 (n=2) | runc run -d | 40 / 40 / 40 (n=2) | 0.525 | ≤ 0.8× | met |",
		"| P2b | container start, back to back | idle | ms | 30 / 31 / 32 (n=3) | runc run -d | 39 / 40 / 41 (n=3) | 0.775 | ≤ 0.8× | met |",
		"| P6a | PID 1 RSS | — | MiB | — | — | — | — | ≤ 60 | MISSED (no samples) |",
		"- **P2a** pause 150 ms",
		"- idle box vs under load",
		"Missed: P6a.",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	if n := strings.Count(string(md), "\n| P"); n != 3 {
		t.Errorf("report.md has %d figure rows, want 3", n)
	}

	js, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Figures) != 3 || back.Figures[2].Status != Missed || back.Figures[0].OursStats.Median != 21 || back.Figures[0].BaseStats.Median != 40 {
		t.Errorf("report.json does not round-trip: %+v", back.Figures)
	}

	var txt strings.Builder
	if err := r.Table(&txt); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(txt.String()), "\n")
	if len(lines) != 1+3+2 || !strings.HasPrefix(lines[0], "id ") || !strings.Contains(lines[3], "MISSED (no samples)") ||
		lines[len(lines)-1] != "missed: P6a" {
		t.Errorf("text table:\n%s", txt.String())
	}
	// Columns line up: "figure" starts at the same offset in every row.
	col := strings.Index(lines[0], "figure")
	for _, l := range lines[1:4] {
		if !strings.HasPrefix(l[col:], "container") && !strings.HasPrefix(l[col:], "PID 1") {
			t.Errorf("column not aligned at %d: %q", col, l)
		}
	}
}

func TestDir(t *testing.T) {
	t.Setenv(DirEnv, "")
	d, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(d, filepath.Join("build", "bench")) {
		t.Errorf("Dir() = %s, want the repository's build/bench", d)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(d)), "go.mod")); err != nil {
		t.Errorf("Dir() = %s is not under the repository root: %v", d, err)
	}
	other := t.TempDir()
	t.Setenv(DirEnv, other)
	if d, _ := Dir(); d != other {
		t.Errorf("with %s set: %s, want %s", DirEnv, d, other)
	}
}
