package box

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/boot/workload"
	"github.com/nucbox/nucbox/config/plan"
)

// TestPrepareTLSShowsTokenOnce: a generated token is printed on the
// console at first boot only, and never goes into the log ring that the
// API serves.
func TestPrepareTLSShowsTokenOnce(t *testing.T) {
	var out bytes.Buffer
	log := &testLog{}
	b := New(Options{Logf: log.logf, ConsoleOnly: func(text string) { out.WriteString(text + "\n") }, Stages: []Stage{}})
	cfg := apiWant{API: plan.API{Listen: ":8443"}, hostname: "lab1", stateDir: filepath.Join(t.TempDir(), "state")}
	first, err := b.prepareTLS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), first.token) || len(first.fingerprint) != 95 {
		t.Errorf("first boot: token not shown or bad fingerprint %q:\n%s", first.fingerprint, out.String())
	}
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, first.token) {
			t.Errorf("token in the log ring: %q", l)
		}
	}
	out.Reset()
	second, err := b.prepareTLS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if second.token != first.token || second.fingerprint != first.fingerprint {
		t.Error("second boot: token or certificate changed")
	}
	if strings.Contains(out.String(), first.token) {
		t.Errorf("second boot printed the token again:\n%s", out.String())
	}
	if b, _ := os.ReadFile(filepath.Join(cfg.stateDir, api.TokenFile)); strings.TrimSpace(string(b)) != first.token {
		t.Error("token file does not hold the token")
	}

	cfg.Token = "configured-token-0123456789"
	third, err := b.prepareTLS(cfg)
	if err != nil || third.token != cfg.Token {
		t.Errorf("a token in the config must win: %v %q", err, third.token)
	}
}

func TestVMWorkload(t *testing.T) {
	started := time.Unix(1000, 0)
	w := apiWorkload(workload.Status{Kind: "vm", Name: "u1", State: workload.StateRunning, PID: 42, Started: started, Restarts: 2,
		LastError: "x", Details: map[string]string{"accel": "tcg", "vnc": "/v1/vms/u1/vnc"}})
	if w.Kind != "vm" || w.Name != "u1" || w.State != "running" || w.PID != 42 || !w.Started.Equal(started) || w.Restarts != 2 || w.LastError != "x" {
		t.Errorf("workload %+v", w)
	}
	if w.Details["accel"] != "tcg" || w.Details["vnc"] != "/v1/vms/u1/vnc" {
		t.Errorf("details %v", w.Details)
	}
	if w := apiWorkload(workload.Status{Kind: "vm", Name: "u2", State: workload.StateFailed}); w.Details != nil {
		t.Errorf("empty details should be left out: %v", w.Details)
	}
}
