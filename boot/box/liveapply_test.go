package box

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/config/plan"
)

// hostStage records the hostname of each config it is applied with and
// fails for one of them.
type hostStage struct {
	mu      sync.Mutex
	applied []string
	failFor string
	block   chan struct{}
}

func (h *hostStage) Name() string { return "host" }

func (h *hostStage) Apply(ctx context.Context, d *plan.Desired) error {
	if h.block != nil {
		<-h.block
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.applied = append(h.applied, d.Hostname)
	if d.Hostname == h.failFor {
		return errors.New("cannot")
	}
	return nil
}

func (h *hostStage) seen() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.applied...)
}

func boxConfig(host string) ConfigRecord {
	return NewConfigRecord("/etc/nucbox/config.yaml", []byte(fmt.Sprintf("hostname: %s\nuplink:\n  interface: auto\n  bridge: br0\n  ipv4: dhcp\n", host)))
}

// readyBox is a box running stages, ready with the config named host.
func readyBox(t *testing.T, host string, stages ...Stage) (*Box, *testLog, ConfigRecord) {
	t.Helper()
	b, log := newTestBox(t, stages...)
	rec := boxConfig(host)
	b.status = Status{Phase: "ready", Summary: &Summary{Hostname: host, Config: rec.SHA256, ReadyMS: 1234}}
	b.good = &rec
	return b, log, rec
}

func TestLiveApply(t *testing.T) {
	st := &hostStage{}
	s, buf, _ := readyBox(t, "one", st)
	next := boxConfig("two")
	res, err := s.Apply(context.Background(), next, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Config != next.SHA256 || res.Previous != boxConfig("one").SHA256 || res.Try != nil {
		t.Errorf("result %+v", res)
	}
	if got, ok := s.LastGood(); !ok || got.SHA256 != next.SHA256 {
		t.Errorf("last good %s, want the new config", got.SHA256)
	}
	sum := s.Status().Summary
	if sum.Config != next.SHA256 || sum.ReadyMS != 1234 {
		t.Errorf("summary after the apply: %+v", sum)
	}
	out := buf.String()
	for _, want := range []string{"apply: from " + short(res.Previous) + " to " + short(next.SHA256), "~ hostname: one -> two", "apply: running " + short(next.SHA256)} {
		if !strings.Contains(out, want) {
			t.Errorf("console lacks %q:\n%s", want, out)
		}
	}
}

func TestLiveApplyFailureGoesBack(t *testing.T) {
	st := &hostStage{failFor: "bad"}
	s, buf, prev := readyBox(t, "one", st)
	_, err := s.Apply(context.Background(), boxConfig("bad"), 0)
	if err == nil || !strings.Contains(err.Error(), "the box went back to "+short(prev.SHA256)) {
		t.Fatalf("err = %v", err)
	}
	if got := st.seen(); strings.Join(got, ",") != "bad,one" {
		t.Errorf("applied %v, want the bad config, then the previous one", got)
	}
	if got, _ := s.LastGood(); got.SHA256 != prev.SHA256 {
		t.Errorf("last good changed to %s", short(got.SHA256))
	}
	if !strings.Contains(buf.String(), "failed: host: cannot; going back to "+short(prev.SHA256)) {
		t.Errorf("console:\n%s", buf.String())
	}
}

func TestLiveApplyRefusals(t *testing.T) {
	s, _, _ := readyBox(t, "one", &hostStage{})
	var ce *api.ConfigError
	if _, err := s.Apply(context.Background(), NewConfigRecord("x", []byte("hostname: Bad_Name\n")), 0); !errors.As(err, &ce) {
		t.Errorf("invalid config: %v", err)
	}
	s.setPhase("booting")
	if _, err := s.Apply(context.Background(), boxConfig("two"), 0); !errors.Is(err, api.ErrNotReady) {
		t.Errorf("while booting: %v", err)
	}
	s.setPhase("shutting down")
	if _, err := s.Apply(context.Background(), boxConfig("two"), 0); !errors.Is(err, api.ErrNotReady) {
		t.Errorf("while shutting down: %v", err)
	}
	s.setPhase("ready")
	if _, err := s.Confirm(); !errors.Is(err, api.ErrNoTry) {
		t.Errorf("confirm without a try: %v", err)
	}

	block := make(chan struct{})
	slow := &hostStage{block: block}
	s, _, _ = readyBox(t, "one", slow)
	done := make(chan error)
	go func() {
		_, err := s.Apply(context.Background(), boxConfig("two"), 0)
		done <- err
	}()
	for {
		s.mu.Lock()
		busy := s.busy
		s.mu.Unlock()
		if busy {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := s.Apply(context.Background(), boxConfig("three"), 0); !errors.Is(err, api.ErrBusy) {
		t.Errorf("during an apply: %v", err)
	}
	close(block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestTryRollsBackUnlessConfirmed(t *testing.T) {
	st := &hostStage{}
	s, buf, prev := readyBox(t, "one", st)
	next := boxConfig("two")
	res, err := s.Apply(context.Background(), next, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Try == nil || res.Try.Previous != prev.SHA256 || res.Try.Deadline.IsZero() {
		t.Fatalf("result %+v", res)
	}
	if p := s.PendingTry(); p == nil || p.Config != next.SHA256 {
		t.Errorf("pending try %+v", p)
	}
	if _, err := s.Apply(context.Background(), boxConfig("three"), 0); !errors.Is(err, api.ErrBusy) {
		t.Errorf("apply during a try: %v", err)
	}
	want := "apply: not confirmed within 50ms, rolled back to " + short(prev.SHA256)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no rollback line:\n%s", buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := st.seen(); strings.Join(got, ",") != "two,one" {
		t.Errorf("applied %v", got)
	}
	if got, _ := s.LastGood(); got.SHA256 != prev.SHA256 {
		t.Errorf("running %s after the rollback, want %s", short(got.SHA256), short(prev.SHA256))
	}
	if s.PendingTry() != nil {
		t.Error("a try is still pending after the rollback")
	}

	// Confirmed in time, the new config stays.
	if _, err := s.Apply(context.Background(), next, time.Hour); err != nil {
		t.Fatal(err)
	}
	if ts, err := s.Confirm(); err != nil || ts.Config != next.SHA256 {
		t.Fatalf("confirm: %+v %v", ts, err)
	}
	if s.PendingTry() != nil {
		t.Error("a try is pending after the confirmation")
	}
	if got, _ := s.LastGood(); got.SHA256 != next.SHA256 {
		t.Errorf("running %s after the confirmation", short(got.SHA256))
	}
	if !strings.Contains(buf.String(), "apply: "+short(next.SHA256)+" confirmed") {
		t.Errorf("no confirmation line:\n%s", buf.String())
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{2 * time.Minute: "2m", 20 * time.Second: "20s", 90 * time.Second: "1m30s", time.Hour: "1h", 50 * time.Millisecond: "50ms"} {
		if got := shortDuration(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}

func TestFailedReapplyStillStopsEveryStage(t *testing.T) {
	var log []string
	mid := &hostStage{failFor: "bad"}
	s := &supervisor{stages: []Stage{
		&stoppingStage{fakeStage{name: "a", log: &log}},
		mid,
		&stoppingStage{fakeStage{name: "c", log: &log}},
	}}
	host := func(name string) *plan.Desired {
		return &plan.Desired{Hostname: name, Order: []string{"a", "host", "c"}}
	}
	if err := s.apply(context.Background(), host("one"), &Summary{}); err != nil {
		t.Fatal(err)
	}
	if err := s.apply(context.Background(), host("bad"), &Summary{}); err == nil {
		t.Fatal("the failing stage did not fail")
	}
	if err := s.stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(log, ","); got != "apply a,apply c,apply a,stop c,stop a" {
		t.Errorf("got %s: c's workloads were left running", got)
	}
}
