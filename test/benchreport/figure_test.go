package benchreport

import (
	"math"
	"testing"
)

func TestSummarize(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		in   []float64
		want Stats
	}{
		{"empty", nil, Stats{}},
		{"only failed runs", []float64{nan, nan}, Stats{}},
		{"one", []float64{7}, Stats{N: 1, Min: 7, Median: 7, Max: 7}},
		{"odd, unsorted", []float64{9, 1, 5}, Stats{N: 3, Min: 1, Median: 5, Max: 9}},
		{"even: mean of the middle two", []float64{4, 1, 10, 2}, Stats{N: 4, Min: 1, Median: 3, Max: 10}},
		{"failed run not counted", []float64{3, nan, 1, 2}, Stats{N: 3, Min: 1, Median: 2, Max: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]float64(nil), tc.in...)
			if got := Summarize(in); got != tc.want {
				t.Errorf("Summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
			}
			for i := range in {
				if in[i] != tc.in[i] && !(math.IsNaN(in[i]) && math.IsNaN(tc.in[i])) {
					t.Fatalf("Summarize reordered its input: %v", in)
				}
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		f         Figure
		status    Status
		ratio     float64
		why       string
		wantStats bool
	}{
		{name: "ratio met", f: Figure{Ours: []float64{4, 5, 6}, Baseline: "b", BaseSamples: []float64{10, 10, 12}, Goal: AtMostRatio(0.5)},
			status: Met, ratio: 0.5, wantStats: true},
		{name: "ratio missed by a little", f: Figure{Ours: []float64{5.1}, Baseline: "b", BaseSamples: []float64{10}, Goal: AtMostRatio(0.5)},
			status: Missed, ratio: 0.51, wantStats: true},
		{name: "ratio of medians, not means", f: Figure{Ours: []float64{1, 2, 100}, Baseline: "b", BaseSamples: []float64{4, 4, 4}, Goal: AtMostRatio(0.8)},
			status: Met, ratio: 0.5, wantStats: true},
		{name: "ratio without baseline samples", f: Figure{Ours: []float64{1}, Baseline: "runc", Goal: AtMostRatio(0.8)},
			status: Missed, why: "no baseline samples", wantStats: true},
		{name: "at-least ratio met", f: Figure{Ours: []float64{9, 9.5, 10}, Baseline: "veth", BaseSamples: []float64{10, 10, 10}, Goal: AtLeastRatio(0.9)},
			status: Met, ratio: 0.95, wantStats: true},
		{name: "at-least ratio missed", f: Figure{Ours: []float64{8, 8.9, 12}, Baseline: "veth", BaseSamples: []float64{10}, Goal: AtLeastRatio(0.9)},
			status: Missed, ratio: 0.89, wantStats: true},
		{name: "at-least ratio without baseline samples", f: Figure{Ours: []float64{1}, Baseline: "veth", Goal: AtLeastRatio(0.9)},
			status: Missed, why: "no baseline samples", wantStats: true},
		{name: "at-least ratio with a zero baseline is not met", f: Figure{Ours: []float64{1}, Baseline: "veth", BaseSamples: []float64{0}, Goal: AtLeastRatio(0.9)},
			status: Missed, wantStats: true},
		{name: "no samples with a goal", f: Figure{Goal: AtMost(30)}, status: Missed, why: "no samples"},
		{name: "absolute met at the limit", f: Figure{Ours: []float64{30}, Goal: AtMost(30)}, status: Met},
		{name: "absolute missed", f: Figure{Ours: []float64{29, 31, 32}, Goal: AtMost(30)}, status: Missed},
		{name: "no goal is info even without samples", f: Figure{}, status: Info},
		{name: "unknown goal kind", f: Figure{Ours: []float64{1}, Goal: Goal{Kind: "≥", Value: 1}}, status: Missed, why: `unknown goal kind "≥"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			f.Evaluate()
			if f.Status != tc.status || f.Why != tc.why {
				t.Errorf("status %q (%q), want %q (%q)", f.Status, f.Why, tc.status, tc.why)
			}
			if math.Abs(f.Ratio-tc.ratio) > 1e-9 {
				t.Errorf("ratio %v, want %v", f.Ratio, tc.ratio)
			}
			if (f.BaseStats != nil) != tc.wantStats {
				t.Errorf("baseline stats %+v, want present=%v", f.BaseStats, tc.wantStats)
			}
		})
	}
}

func TestNum(t *testing.T) {
	for in, want := range map[float64]string{
		0.5: "0.500", 0.0123: "0.012", 1.234: "1.23", 12.345: "12.35", 123.45: "123.5",
		1234.5: "1234", 30: "30", math.NaN(): "—",
	} {
		if got := num(in); got != want {
			t.Errorf("num(%v) = %q, want %q", in, got, want)
		}
	}
}
