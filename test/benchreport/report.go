package benchreport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the whole table with what it was measured on.
type Report struct {
	Generated time.Time `json:"generated"`
	// Host says what machine the figures come from (CPUs, kernel).
	Host    string   `json:"host,omitempty"`
	Notes   []string `json:"notes,omitempty"`
	Figures []Figure `json:"figures"`
	// Groups are the names figures were saved under (Save's name).
	Groups []string `json:"groups"`
}

// DirEnv overrides where figures and the report go; the default is
// build/bench under the repository root.
const DirEnv = "NUCBOX_BENCH_DIR"

// Dir is the report directory: $NUCBOX_BENCH_DIR, or build/bench of the
// repository that holds the working directory.
func Dir() (string, error) {
	if d := os.Getenv(DirEnv); d != "" {
		return filepath.Abs(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "build", "bench"), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", wd)
		}
	}
}

// Save writes figures as DIR/figures/NAME.json, replacing an earlier
// file of the same name: a benchmark saves all its figures at once, and
// running it again replaces them.
func Save(dir, name string, figs ...Figure) error {
	fd := filepath.Join(dir, "figures")
	if err := os.MkdirAll(fd, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(figs, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(fd, "."+name+".tmp")
	if err := os.WriteFile(tmp, append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(fd, name+".json"))
}

// Load reads every figure file under DIR/figures, evaluates the figures
// and sorts them by ID (stable, so a file's own order stays).
func Load(dir string) (*Report, error) {
	files, err := filepath.Glob(filepath.Join(dir, "figures", "*.json"))
	if err != nil {
		return nil, err
	}
	r := &Report{Generated: time.Now().UTC()}
	var errs []error
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var figs []Figure
		if err := json.Unmarshal(b, &figs); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
			continue
		}
		r.Figures = append(r.Figures, figs...)
		r.Groups = append(r.Groups, strings.TrimSuffix(filepath.Base(f), ".json"))
	}
	r.Evaluate()
	return r, errors.Join(errs...)
}

// Evaluate evaluates every figure and orders them by ID.
func (r *Report) Evaluate() {
	for i := range r.Figures {
		r.Figures[i].Evaluate()
	}
	slices.SortStableFunc(r.Figures, func(a, b Figure) int { return strings.Compare(a.ID, b.ID) })
}

// Expect adds a missed row for each named group that saved no figures
// (its benchmark failed or did not run), so that a figure cannot leave
// the table by failing to be measured.
func (r *Report) Expect(groups ...string) {
	for _, g := range groups {
		if g == "" || slices.Contains(r.Groups, g) {
			continue
		}
		f := Figure{ID: strings.ToUpper(strings.SplitN(g, "-", 2)[0]), Name: g + ": no figures (the benchmark failed or did not run; see its output above)",
			Goal: AtMost(0)}
		f.Evaluate()
		r.Figures = append(r.Figures, f)
	}
	r.Evaluate()
}

// Missed lists the IDs of figures that missed their goal.
func (r *Report) Missed() []string {
	var ids []string
	for _, f := range r.Figures {
		if f.Status == Missed {
			ids = append(ids, f.ID)
		}
	}
	return ids
}

// Write writes DIR/report.json and DIR/report.md.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	r.Markdown(&md)
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()), 0o644)
}

var header = []string{"id", "figure", "load", "unit", "ours min/med/max", "baseline", "baseline min/med/max", "ratio", "goal", "status"}

func (f Figure) cells() []string {
	ratio, base, baseStats := "—", "—", "—"
	if f.Baseline != "" {
		base = f.Baseline
	}
	if f.BaseStats != nil && f.BaseStats.N > 0 {
		baseStats = f.BaseStats.String()
	}
	if f.Ratio != 0 {
		ratio = num(f.Ratio)
	}
	status := string(f.Status)
	if f.Why != "" {
		status += " (" + f.Why + ")"
	}
	load := f.Load
	if load == "" {
		load = "—"
	}
	return []string{f.ID, f.Name, load, f.Unit, f.OursStats.String(), base, baseStats, ratio, f.Goal.String(), status}
}

func (s Stats) String() string {
	switch s.N {
	case 0:
		return "—"
	case 1:
		return num(s.Median) + " (n=1)"
	}
	return fmt.Sprintf("%s / %s / %s (n=%d)", num(s.Min), num(s.Median), num(s.Max), s.N)
}

// Markdown writes the report as a Markdown table with the notes of each
// figure below it.
func (r *Report) Markdown(w io.Writer) {
	fmt.Fprintf(w, "# nucbox benchmark report\n\n")
	fmt.Fprintf(w, "Generated %s", r.Generated.Format(time.RFC3339))
	if r.Host != "" {
		fmt.Fprintf(w, " on %s", r.Host)
	}
	fmt.Fprintf(w, ".\n\n")
	for _, n := range r.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(header, " | "))
	fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(header)))
	for _, f := range r.Figures {
		c := f.cells()
		for i := range c {
			c[i] = strings.ReplaceAll(c[i], "|", `\|`)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(c, " | "))
	}
	var notes []string
	for _, f := range r.Figures {
		if f.Note != "" {
			notes = append(notes, fmt.Sprintf("- **%s** %s", f.ID, f.Note))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\n## How each figure was measured\n\n%s\n", strings.Join(notes, "\n"))
	}
	if m := r.Missed(); len(m) > 0 {
		fmt.Fprintf(w, "\nMissed: %s.\n", strings.Join(m, ", "))
	}
}

// Table writes the report as an aligned plain-text table, for the
// terminal.
func (r *Report) Table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, f := range r.Figures {
		fmt.Fprintln(tw, strings.Join(f.cells(), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if m := r.Missed(); len(m) > 0 {
		fmt.Fprintf(w, "missed: %s\n", strings.Join(m, ", "))
	}
	return nil
}
