package box

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/config"
)

func TestVMsStageControl(t *testing.T) {
	f := newFakeVMs()
	ctx := context.Background()
	cfg := vmCfg(config.VM{Name: "a"})
	if err := f.stage.Apply(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	w, err := f.stage.control(ctx, "a", api.WorkloadStop)
	if err != nil || w.State != "stopped" || !w.Held || f.stops("a") != 1 {
		t.Fatalf("stop: %+v, %v", w, err)
	}
	// An apply of the same config leaves it stopped.
	if err := f.stage.Apply(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if n := f.runs("a"); n != 1 {
		t.Errorf("an apply started the stopped VM again (%d runs)", n)
	}
	if w := workloadOf(f.stage, "a"); w.State != "stopped" || !w.Held {
		t.Errorf("after the apply: %+v", w)
	}
	w, err = f.stage.control(ctx, "a", api.WorkloadStart)
	if err != nil || w.State != "running" || w.Held || f.runs("a") != 2 || w.Restarts != 0 {
		t.Fatalf("start: %+v, %v (%d runs)", w, err, f.runs("a"))
	}
	// Start of a running VM changes nothing.
	if w, err = f.stage.control(ctx, "a", api.WorkloadStart); err != nil || f.runs("a") != 2 {
		t.Errorf("start while running: %+v, %v (%d runs)", w, err, f.runs("a"))
	}
	w, err = f.stage.control(ctx, "a", api.WorkloadRestart)
	if err != nil || w.State != "running" || w.Restarts != 1 || f.runs("a") != 3 || f.stops("a") != 2 {
		t.Errorf("restart: %+v, %v", w, err)
	}
	if _, err := f.stage.control(ctx, "nosuch", api.WorkloadStop); !errors.Is(err, api.ErrNoWorkload) {
		t.Errorf("unknown VM: %v", err)
	}
	if _, err := f.stage.console("nosuch"); !errors.Is(err, api.ErrNoWorkload) {
		t.Errorf("console of an unknown VM: %v", err)
	}
}

func TestContainersStageControl(t *testing.T) {
	c, fr := newFakeContainers()
	ctx := context.Background()
	cfg := ctConfig(config.Container{Name: "web", Image: "oci-layout:/images/web"})
	if err := c.Apply(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	w, err := c.control(ctx, "web", api.WorkloadStop)
	if _, stopped := fr.made["web"][0].count(); err != nil || w.State != "stopped" || !w.Held || stopped != 1 {
		t.Fatalf("stop: %+v, %v", w, err)
	}
	if err := c.Apply(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if n := fr.runs("web"); n != 1 {
		t.Errorf("an apply started the stopped container again (%d runs)", n)
	}
	w, err = c.control(ctx, "web", api.WorkloadStart)
	if err != nil || w.State != "running" || w.Held || fr.runs("web") != 2 {
		t.Fatalf("start: %+v, %v", w, err)
	}
	w, err = c.control(ctx, "web", api.WorkloadRestart)
	if err != nil || w.State != "running" || w.Restarts != 1 || fr.runs("web") != 3 {
		t.Errorf("restart: %+v, %v", w, err)
	}
	// The log's tail carries over to the new runs.
	lines, _ := c.logLines("web")
	if n := strings.Count(joinLines(lines), "hello"); n != 3 {
		t.Errorf("log after two restarts holds %d runs, want 3:\n%s", n, joinLines(lines))
	}
	if _, err := c.control(ctx, "nosuch", api.WorkloadStop); !errors.Is(err, api.ErrNoWorkload) {
		t.Errorf("unknown container: %v", err)
	}
	// A container that ended and is not restarted by its policy is
	// started by a start request.
	fr.made["web"][0].exit()
	waitState(t, c, "web", "exited")
	if w, err := c.control(ctx, "web", api.WorkloadStart); err != nil || w.State != "running" || fr.runs("web") != 4 {
		t.Errorf("start of an exited container: %+v, %v (%d runs)", w, err, fr.runs("web"))
	}
}

// workloadOf is the named workload of the stage, as the API lists it.
func workloadOf(s workloadStage, name string) api.Workload {
	for _, w := range s.Workloads() {
		if w.Name == name {
			return w
		}
	}
	return api.Workload{Name: name}
}

// waitState waits until the stage shows the named workload in state.
func waitState(t *testing.T, s workloadStage, name, state string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, w := range s.Workloads() {
			if w.Name == name && w.State == state {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never %s: %+v", name, state, s.Workloads())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func joinLines(ls []api.LogLine) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}

func TestNewLines(t *testing.T) {
	var partial []byte
	if got := newLines(&partial, []byte("one\ntw")); len(got) != 1 || got[0] != "one" || string(partial) != "tw" {
		t.Errorf("first chunk: %q, partial %q", got, partial)
	}
	if got := newLines(&partial, []byte("o\nthree\n")); len(got) != 2 || got[0] != "two" || got[1] != "three" || partial != nil {
		t.Errorf("second chunk: %q, partial %q", got, partial)
	}
	if got := newLines(&partial, nil); len(got) != 0 {
		t.Errorf("no data: %q", got)
	}
}
