package box

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/boot/logship"
	"github.com/nucbox/nucbox/boot/logship/syslogtest"
	"github.com/nucbox/nucbox/config/plan"
)

// The logging stage ships PID 1's log from its first line, and the output
// of every workload, also one that appears after the apply; an apply
// without a server stops the shipping.
func TestLoggingStage(t *testing.T) {
	rcv, err := syslogtest.Listen("127.0.0.1:0", nil, logship.SDID)
	if err != nil {
		t.Fatal(err)
	}
	defer rcv.Close()
	var mu sync.Mutex
	streams := map[string]chan api.LogLine{api.BootLog: make(chan api.LogLine, 10), "web": make(chan api.LogLine, 10)}
	workloads := []api.Workload{}
	st := &loggingStage{
		log:    logger{logf: func(string, ...any) {}},
		uptime: func() time.Duration { return time.Minute },
		follow: func(ctx context.Context, name string, follow bool) ([]api.LogLine, <-chan api.LogLine, bool) {
			mu.Lock()
			defer mu.Unlock()
			ch, ok := streams[name]
			if !ok {
				return nil, nil, false
			}
			if name == api.BootLog {
				return []api.LogLine{{Seq: 1, Time: time.Second, Text: "nucbox: booting"}}, ch, true
			}
			return []api.LogLine{{Seq: 1, Text: "listening on :80"}}, ch, true
		},
		workloads: func() []api.Workload {
			mu.Lock()
			defer mu.Unlock()
			return append([]api.Workload(nil), workloads...)
		},
	}
	d := &plan.Desired{Logging: plan.Logging{Remote: "tcp://" + rcv.Addr()}}
	if err := st.Apply(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	wait := func(what string, match func(syslogtest.Message) bool) syslogtest.Message {
		t.Helper()
		m, err := rcv.Wait(10*time.Second, what, match)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	first := wait("the first boot line", func(m syslogtest.Message) bool { return m.Text() == "nucbox: booting" })
	if first.Params["kind"] != "box" || time.Since(*first.Timestamp) < 50*time.Second {
		t.Errorf("first line: %v at %v, want kind box, stamped a minute ago (at 1 s of a 1 min uptime)", first.Params, first.Timestamp)
	}
	streams[api.BootLog] <- api.LogLine{Seq: 2, Time: time.Minute, Text: "nucbox: warning: something"}
	if m := wait("a later line", func(m syslogtest.Message) bool { return m.Text() == "nucbox: warning: something" }); *m.Severity != logship.SevWarning {
		t.Errorf("severity %d, want warning", *m.Severity)
	}
	// A workload that appears later is followed from its first line.
	mu.Lock()
	workloads = append(workloads, api.Workload{Kind: "container", Name: "web"})
	mu.Unlock()
	m := wait("the workload's backlog", func(m syslogtest.Message) bool { return m.Text() == "listening on :80" })
	if m.Params["workload"] != "web" || m.Params["kind"] != "container" {
		t.Errorf("workload line: %v", m.Params)
	}
	streams["web"] <- api.LogLine{Text: "GET /"}
	wait("the workload's later output", func(m syslogtest.Message) bool { return m.Text() == "GET /" })
	if s := st.status(); s == nil || !s.Connected || s.Sent < 4 {
		t.Errorf("status %+v", s)
	}

	// No server: the shipping stops, and nothing more is sent.
	if err := st.Apply(context.Background(), &plan.Desired{}); err != nil {
		t.Fatal(err)
	}
	if s := st.status(); s != nil {
		t.Errorf("status after the server was removed: %+v", s)
	}
	streams[api.BootLog] <- api.LogLine{Seq: 3, Time: time.Minute, Text: "nucbox: after"}
	time.Sleep(200 * time.Millisecond) // a line that is not sent has no event to wait for
	msgs, _ := rcv.Messages()
	for _, m := range msgs {
		if m.Text() == "nucbox: after" {
			t.Error("a line was shipped after the server was removed from the config")
		}
	}
}
