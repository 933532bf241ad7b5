package benchreport

import (
	"fmt"
	"math"
	"slices"
)

// Goal is what a figure must reach. A ratio goal compares the medians of
// ours and the baseline (ours/baseline ≤ Value for times and sizes,
// ≥ Value for rates such as throughput); a max goal compares our median
// with an absolute Value in the figure's unit. The zero Goal is no goal:
// the figure is informational.
type Goal struct {
	Kind  GoalKind `json:"kind,omitempty"`
	Value float64  `json:"value,omitempty"`
}

// GoalKind says how a Goal is checked.
type GoalKind string

const (
	NoGoal   GoalKind = ""
	RatioMax GoalKind = "ratio<="
	RatioMin GoalKind = "ratio>="
	AbsMax   GoalKind = "<="
)

// AtMostRatio is the goal ours/baseline ≤ r, medians.
func AtMostRatio(r float64) Goal { return Goal{Kind: RatioMax, Value: r} }

// AtLeastRatio is the goal ours/baseline ≥ r, medians: for figures where
// more is better.
func AtLeastRatio(r float64) Goal { return Goal{Kind: RatioMin, Value: r} }

// AtMost is the goal median ≤ v in the figure's unit.
func AtMost(v float64) Goal { return Goal{Kind: AbsMax, Value: v} }

func (g Goal) String() string {
	switch g.Kind {
	case RatioMax:
		return fmt.Sprintf("≤ %g×", g.Value)
	case RatioMin:
		return fmt.Sprintf("≥ %g×", g.Value)
	case AbsMax:
		return fmt.Sprintf("≤ %g", g.Value)
	}
	return "—"
}

// Status is a figure's verdict.
type Status string

const (
	Met    Status = "met"
	Missed Status = "MISSED"
	// Info is a figure without a goal (a stage of the boot, a size shown
	// for context).
	Info Status = "info"
)

// Figure is one row of the table: what the samples were and, once
// Evaluate ran, what they say.
type Figure struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Unit string `json:"unit"`
	// Load is the box's state while measuring: "idle", or what ran next
	// to it ("1 CPU burner").
	Load string    `json:"load,omitempty"`
	Ours []float64 `json:"ours"`
	// Baseline names what ours is compared with, BaseSamples are its
	// samples from the same run. Both empty for an absolute figure.
	Baseline    string    `json:"baseline,omitempty"`
	BaseSamples []float64 `json:"baseline_samples,omitempty"`
	Goal        Goal      `json:"goal"`
	// Note says how it was measured, or what was tried when it misses.
	Note string `json:"note,omitempty"`

	// Filled by Evaluate.
	OursStats Stats   `json:"ours_stats"`
	BaseStats *Stats  `json:"baseline_stats,omitempty"`
	Ratio     float64 `json:"ratio,omitempty"`
	Status    Status  `json:"status"`
	// Why says why a figure is missed when the numbers alone do not (no
	// samples, no baseline).
	Why string `json:"why,omitempty"`
}

// Stats is the spread of repeated runs.
type Stats struct {
	N      int     `json:"n"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

// Summarize computes the spread of samples; the median of an even number
// is the mean of the middle two. NaN samples (a run that failed to
// report) are not counted.
func Summarize(samples []float64) Stats {
	s := make([]float64, 0, len(samples))
	for _, v := range samples {
		if !math.IsNaN(v) {
			s = append(s, v)
		}
	}
	if len(s) == 0 {
		return Stats{}
	}
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Stats{N: n, Min: s[0], Median: med, Max: s[n-1]}
}

// Evaluate fills the statistics, the ratio and the status from the
// samples and the goal. A figure with a goal and no samples, or a ratio
// goal without baseline samples, is missed: a figure that could not be
// measured has not met anything.
func (f *Figure) Evaluate() {
	f.OursStats = Summarize(f.Ours)
	f.BaseStats, f.Ratio, f.Why = nil, 0, ""
	if len(f.BaseSamples) > 0 || f.Baseline != "" {
		b := Summarize(f.BaseSamples)
		f.BaseStats = &b
		if b.N > 0 && b.Median != 0 && f.OursStats.N > 0 {
			f.Ratio = f.OursStats.Median / b.Median
		}
	}
	switch {
	case f.Goal.Kind == NoGoal:
		f.Status = Info
	case f.OursStats.N == 0:
		f.Status, f.Why = Missed, "no samples"
	case (f.Goal.Kind == RatioMax || f.Goal.Kind == RatioMin) && (f.BaseStats == nil || f.BaseStats.N == 0):
		f.Status, f.Why = Missed, "no baseline samples"
	case f.Goal.Kind == RatioMax && f.Ratio <= f.Goal.Value:
		f.Status = Met
	case f.Goal.Kind == RatioMin && f.Ratio >= f.Goal.Value && f.Ratio != 0:
		f.Status = Met
	case f.Goal.Kind == AbsMax && f.OursStats.Median <= f.Goal.Value:
		f.Status = Met
	case f.Goal.Kind != RatioMax && f.Goal.Kind != RatioMin && f.Goal.Kind != AbsMax:
		f.Status, f.Why = Missed, fmt.Sprintf("unknown goal kind %q", f.Goal.Kind)
	default:
		f.Status = Missed
	}
}

// num prints a figure with the precision its size needs: 3 significant
// digits down to 0.01, whole numbers above 1000.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "—"
	case a >= 1000 || v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}
