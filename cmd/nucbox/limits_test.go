package main

import (
	"strings"
	"testing"

	"github.com/nucbox/nucbox/boot/api"
)

// The status names the workloads that ran into a limit, and only those.
func TestStatusLimits(t *testing.T) {
	hog, bomb := &api.LimitHits{}, &api.LimitHits{}
	hog.Memory.Limit, hog.Memory.Max, hog.Memory.OOMKill = 1<<30, 120, 1
	bomb.PIDs.Limit, bomb.PIDs.Max = 1024, 5000
	st := api.Status{Workloads: []api.Workload{
		{Kind: "container", Name: "hog", Limits: hog},
		{Kind: "container", Name: "bomb", Limits: bomb},
		{Kind: "container", Name: "canary", Limits: &api.LimitHits{}},
	}}
	var b strings.Builder
	writeLimits(&b, st)
	out := b.String()
	for _, want := range []string{
		"container hog   memory 1024 MiB: reached 120 times, 1 OOM kills",
		"container bomb  pids 1024: 5000 forks refused",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "canary") {
		t.Errorf("a workload that hit no limit is listed:\n%s", out)
	}
	b.Reset()
	writeLimits(&b, api.Status{Workloads: st.Workloads[2:]})
	if b.Len() != 0 {
		t.Errorf("a section with no limit hit:\n%s", b.String())
	}
}
