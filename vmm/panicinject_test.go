//go:build panicinject

package vmm

import (
	"context"
	"io"
	"log"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/go-qemu/qmp"

	"github.com/nucbox/nucbox/internal/inject"
	"github.com/nucbox/nucbox/test/syncbuf"
)

// A panic while the QMP reader handles an event costs that event: the
// reader is restarted, the next event arrives and so does the reply of
// the command it came with.
func TestQMPReaderSurvivesAPanic(t *testing.T) {
	var logged syncbuf.Buffer
	log.SetOutput(io.MultiWriter(&logged, os.Stderr))
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	sock := qmpServer(t, func(cmd string, id any, send func(any)) {
		send(map[string]any{"event": "FIRST"})
		send(map[string]any{"event": "SECOND"})
		send(map[string]any{"return": map[string]any{"status": "running"}, "id": id})
	})
	var (
		mu   sync.Mutex
		seen []string
	)
	m, err := dialQMP(context.Background(), sock, nil, 2*time.Second, func(e qmp.Event) {
		mu.Lock()
		seen = append(seen, e.Event)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	inject.Arm("qmp.event")
	st, err := m.status(context.Background())
	if err != nil || st != "running" {
		t.Fatalf("status after the panic: %q, %v", st, err)
	}
	waitFor(t, 5*time.Second, "the event after the panic", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(seen, " ") == "NIC_RX_FILTER_CHANGED SECOND"
	})
	if got := logged.String(); !strings.Contains(got, "QMP reader: panic (recovered, PID 1 keeps running): injected panic at qmp.event") {
		t.Errorf("the panic is not in the log:\n%s", got)
	}
}

// A panic in a VM's supervision restarts it: Stop still finds it, and
// it powers the guest down as it would have.
func TestVMSupervisionSurvivesAPanic(t *testing.T) {
	var logged syncbuf.Buffer
	inject.Arm("vm.supervise")
	g := fakeGuest(t, "obey", "always", Options{Log: slog.New(slog.NewTextHandler(&logged, nil))})
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the panic in the log", func() bool {
		return strings.Contains(logged.String(), "fake: supervision: panic (recovered, PID 1 keeps running): injected panic at vm.supervise")
	})
	pid := g.Status().PID
	if err := g.Stop(context.Background()); err != nil {
		t.Fatalf("Stop after the panic: %v\n%s", err, logged.String())
	}
	if st := g.Status(); st.StoppedBy != "powerdown" || st.State != StateStopped || st.PID != 0 {
		t.Errorf("after Stop: %+v (QEMU pid was %d)\n%s", st, pid, logged.String())
	}
}
