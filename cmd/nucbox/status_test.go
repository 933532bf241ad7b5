package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/boot/api"
)

// The status shows when the kernel's random pool became ready and how
// the seed was used, from the ready summary; a summary without them
// (a box of an older version) shows no entropy line.
func TestStatusShowsEntropy(t *testing.T) {
	for _, tc := range []struct {
		summary string
		want    string
	}{
		{`{"init_ms":3500,"ready_ms":9900,"entropy_ready_ms":9050,"entropy_seed":"credited"}`, "random pool ready at 9050 ms (seed credited)"},
		{`{"init_ms":3500,"ready_ms":9900}`, ""},
	} {
		var b strings.Builder
		if err := writeStatus(&b, api.Status{BoxState: api.BoxState{Hostname: "box", Phase: "ready", Summary: json.RawMessage(tc.summary)}}); err != nil {
			t.Fatal(err)
		}
		got := b.String()
		if tc.want == "" && strings.Contains(got, "entropy") {
			t.Errorf("summary %s: an entropy line without entropy fields:\n%s", tc.summary, got)
		}
		if tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("summary %s: no %q in:\n%s", tc.summary, tc.want, got)
		}
	}
}
