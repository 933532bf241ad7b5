package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// Which workload hit which limit, in the metrics and in the status JSON
// as `limits: {memory: {max, oom_kill}, pids: {max}}`; a workload
// without limits has no such series (the positive control for the
// labels).
func TestLimitMetrics(t *testing.T) {
	box := newFakeBox()
	box.workloads[0].Limits = &LimitHits{}
	box.workloads[0].Limits.Memory.Limit, box.workloads[0].Limits.Memory.Max, box.workloads[0].Limits.Memory.OOMKill = 1<<30, 42, 3
	box.workloads[0].Limits.PIDs.Limit, box.workloads[0].Limits.PIDs.Max = 1024, 7
	box.state.WorkloadLimits = &LimitHits{}
	box.state.WorkloadLimits.Memory.Max, box.state.WorkloadLimits.PIDs.Max = 5, 2
	_, ts := newTestServer(t, box, false)
	_, body := do(t, "GET", ts.URL+"/metrics", "Bearer "+testToken, "")
	for _, want := range []string{
		`nucbox_workload_memory_limit_hits_total{kind="container",name="web"} 42`,
		`nucbox_workload_oom_kills_total{kind="container",name="web"} 3`,
		`nucbox_workload_pids_limit_hits_total{kind="container",name="web"} 7`,
		`nucbox_workload_memory_limit_bytes{kind="container",name="web"} 1.073741824e+09`,
		`nucbox_workload_pids_limit{kind="container",name="web"} 1024`,
		`nucbox_workloads_memory_limit_hits_total 5`,
		`nucbox_workloads_pids_limit_hits_total 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, `limit_hits_total{kind="vm"`) {
		t.Error("a workload without limits has limit series")
	}

	_, body = do(t, "GET", ts.URL+"/v1/status", "Bearer "+testToken, "")
	var st struct {
		WorkloadLimits map[string]map[string]int64 `json:"workload_limits"`
		Workloads      []struct {
			Name   string
			Limits map[string]map[string]int64 `json:"limits"`
		} `json:"workloads"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	for _, w := range st.Workloads {
		switch w.Name {
		case "web":
			if w.Limits["memory"]["max"] != 42 || w.Limits["memory"]["oom_kill"] != 3 || w.Limits["pids"]["max"] != 7 || w.Limits["pids"]["limit"] != 1024 {
				t.Errorf("web's limits in the status: %v", w.Limits)
			}
		case "ubuntu1":
			if w.Limits != nil {
				t.Errorf("ubuntu1 has limits in the status: %v", w.Limits)
			}
		}
	}
	if st.WorkloadLimits["pids"]["max"] != 2 {
		t.Errorf("workload_limits in the status: %v", st.WorkloadLimits)
	}
}
