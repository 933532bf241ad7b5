//go:build panicinject

package containers

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/internal/inject"
	"github.com/nucbox/nucbox/test/syncbuf"
)

// A panic in a pull is that start's error, and the next start pulls and
// runs; a panic in a run's supervision restarts it, so the run's end is
// still seen and Stop still stops the container. Both are logged with
// the container's name.
func TestContainerSurvivesPanics(t *testing.T) {
	requireRoot(t)
	var logged syncbuf.Buffer
	dir := t.TempDir()
	r, err := New(Options{
		StateDir: filepath.Join(dir, "state"),
		RunDir:   filepath.Join(dir, "run"),
		Box:      "nuc-test",
		Logger:   slog.New(slog.NewTextHandler(io.MultiWriter(testWriter{t}, &logged), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	tr := serveImage(t, busyboxImage(t))
	name := ctName(t, "panicky")
	ct := spec(name, tr.source(t), "sh", "-c", "echo up; exec sleep 1000")
	ct.StopTimeout = time.Second
	s := supervise(t, r, ct)

	inject.Arm("container.pull")
	if err := s.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "injected panic at container.pull") {
		t.Fatalf("Start with a panicking pull: %v", err)
	}
	inject.Arm("container.supervise")
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start after the panic: %v", err)
	}
	waitOutput(t, s.log, "up\n")
	waitStatus(t, s, "the supervision's panic in the log", func(Status) bool {
		return strings.Contains(logged.String(), name+": supervision: panic (recovered, PID 1 keeps running): injected panic at container.supervise")
	})
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st.State != StateStopped || st.Pid != 0 {
		t.Errorf("after Stop: %+v\n%s", st, logged.String())
	}
	if !strings.Contains(logged.String(), "panic: injected panic at container.pull") {
		t.Errorf("the pull's panic is not in the log:\n%s", logged.String())
	}
}
