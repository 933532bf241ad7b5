package vmm

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
)

// qmpServer serves one QMP connection on a fresh socket; handle answers
// each command through send (or not at all).
func qmpServer(t *testing.T, handle func(cmd string, id any, send func(any))) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "qmp.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		send := func(v any) {
			b, _ := json.Marshal(v)
			c.Write(append(b, '\n'))
		}
		send(map[string]any{"QMP": map[string]any{"version": map[string]any{"qemu": map[string]int{"major": 7, "minor": 2}}, "capabilities": []string{}}})
		dec := json.NewDecoder(c)
		for {
			var cmd struct {
				Execute string
				ID      any
			}
			if err := dec.Decode(&cmd); err != nil {
				return
			}
			if cmd.Execute == "qmp_capabilities" {
				// An event before the reply, as QEMU may send one.
				send(map[string]any{"event": "NIC_RX_FILTER_CHANGED"})
				send(map[string]any{"return": map[string]any{}, "id": cmd.ID})
				continue
			}
			handle(cmd.Execute, cmd.ID, send)
		}
	}()
	return sock
}

// A flood of events must not hold up command replies: the event reader
// always runs.
func TestQMPEventsAreDrained(t *testing.T) {
	const n = 2000
	sock := qmpServer(t, func(cmd string, id any, send func(any)) {
		for i := 0; i < n; i++ {
			send(map[string]any{"event": "BLOCK_IO_ERROR", "data": map[string]any{"i": i}})
		}
		send(map[string]any{"return": map[string]any{"status": "running"}, "id": id})
	})
	var seen atomic.Int64
	m, err := dialQMP(context.Background(), sock, nil, 2*time.Second, func(qmp.Event) { seen.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	st, err := m.status(context.Background())
	if err != nil || st != "running" {
		t.Fatalf("status %q, %v", st, err)
	}
	// The one before the capabilities reply counts too.
	waitFor(t, 5*time.Second, "all events", func() bool { return seen.Load() == n+1 })
}

// A command QEMU never answers times out, and the connection stays
// usable: a late reply is told apart by its id and dropped.
func TestQMPCommandTimeout(t *testing.T) {
	sock := qmpServer(t, func(cmd string, id any, send func(any)) {
		switch cmd {
		case "system_powerdown":
			// no answer
		case "cont":
			time.Sleep(200 * time.Millisecond)
			send(map[string]any{"return": map[string]any{}, "id": id})
		default:
			send(map[string]any{"return": map[string]any{"status": "running"}, "id": id})
		}
	})
	m, err := dialQMP(context.Background(), sock, nil, 150*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	start := time.Now()
	err = m.run(context.Background(), "system_powerdown", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "no answer in 150ms") {
		t.Fatalf("err %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("timeout took %v", took)
	}
	if err := m.run(context.Background(), "cont", nil, nil); err == nil {
		t.Fatal("a 200ms reply beat a 150ms timeout")
	}
	// The late reply to cont arrives while query-status waits; it must not
	// be taken for query-status's.
	st, err := m.status(context.Background())
	if err != nil || st != "running" {
		t.Errorf("after timeouts: %q, %v", st, err)
	}
}

func TestQMPContextCancel(t *testing.T) {
	sock := qmpServer(t, func(string, any, func(any)) {})
	m, err := dialQMP(context.Background(), sock, nil, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := m.run(ctx, "cont", nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v", err)
	}
}

func TestQMPErrorReply(t *testing.T) {
	sock := qmpServer(t, func(cmd string, id any, send func(any)) {
		send(map[string]any{"error": map[string]string{"class": "CommandNotFound", "desc": "The command query-cpus has not been found"}, "id": id})
	})
	m, err := dialQMP(context.Background(), sock, nil, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	if err := m.run(context.Background(), "query-cpus", nil, nil); err == nil || !strings.Contains(err.Error(), "has not been found") {
		t.Errorf("err %v", err)
	}
}

// QEMU creates its socket a moment after it starts; the dial waits.
func TestQMPDialWaitsForSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "qmp.sock")
	go func() {
		time.Sleep(100 * time.Millisecond)
		ln, err := net.Listen("unix", sock)
		if err != nil {
			return
		}
		defer ln.Close()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte(`{"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": []}}` + "\n"))
		json.NewDecoder(c).Decode(new(any))
		c.Write([]byte(`{"return": {}, "id": 0}` + "\n"))
		time.Sleep(time.Second)
	}()
	m, err := dialQMP(context.Background(), sock, nil, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.close()
}

func TestQMPDialGivesUpWhenQEMUExits(t *testing.T) {
	exited := make(chan struct{})
	time.AfterFunc(50*time.Millisecond, func() { close(exited) })
	_, err := dialQMP(context.Background(), filepath.Join(t.TempDir(), "never.sock"), exited, time.Second, nil)
	if err == nil || !strings.Contains(err.Error(), "QEMU exited") {
		t.Errorf("err %v", err)
	}
}
