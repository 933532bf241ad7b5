package box

import (
	"context"
	"sync"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/boot/logship"
	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/internal/safe"
)

// workloadScan is how often the log shipping looks for workloads that
// appeared: a new one's output since its start is in its log, so a
// scan finds all of it.
const workloadScan = 2 * time.Second

// loggingStage ships PID 1's log and every workload's output to the
// config's syslog server. It follows the same streams the API serves
// (nucbox logs -f), so what a remote server gets is what a person
// following the box would see.
type loggingStage struct {
	log    logger
	uptime func() time.Duration
	// follow is the API's view of a log: api.BootLog or a workload.
	follow    func(ctx context.Context, name string, follow bool) ([]api.LogLine, <-chan api.LogLine, bool)
	workloads func() []api.Workload

	mu     sync.Mutex
	ship   *logship.Shipper
	cancel context.CancelFunc
	done   chan struct{}
}

func (*loggingStage) Name() string { return plan.StageLogging }

func (s *loggingStage) Apply(ctx context.Context, d *plan.Desired) error {
	l := d.Logging
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.Remote == "" {
		s.stopLocked()
		return nil
	}
	if s.ship != nil {
		s.ship.SetBuffer(int(l.Buffer))
		return s.ship.SetURL(l.Remote)
	}
	ship, err := logship.New(logship.Options{URL: l.Remote, Buffer: int(l.Buffer), Logf: s.log.logf,
		Hostname: func() string { name, _ := hostname(); return name }})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(context.Background())
	s.ship, s.cancel, s.done = ship, cancel, make(chan struct{})
	done := s.done
	s.log.goSafe("logging", func() {
		defer close(done)
		var wg sync.WaitGroup
		wg.Add(3)
		s.log.goSafe("logging: sender", func() {
			defer wg.Done()
			safe.Run(rctx, s.log.unprefixed(), "logging: sender", safe.DefaultBackoff, func(ctx context.Context) error {
				ship.Run(ctx)
				return nil
			})
		})
		s.log.goSafe("logging: box log", func() { defer wg.Done(); s.shipLog(rctx, ship, api.BootLog, "box") })
		s.log.goSafe("logging: workloads", func() { defer wg.Done(); s.scanWorkloads(rctx, ship) })
		wg.Wait()
	})
	return nil
}

// stopLocked ends the shipping; s.mu is held.
func (s *loggingStage) stopLocked() {
	if s.ship == nil {
		return
	}
	s.cancel()
	<-s.done
	s.ship, s.cancel, s.done = nil, nil, nil
}

// Stop gives the sender a moment to send what is queued (the shutdown's
// own lines), then ends it.
func (s *loggingStage) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ship == nil {
		return nil
	}
	deadline := time.Now().Add(2 * time.Second)
	for s.ship.Status().Queued > 0 && s.ship.Status().Connected && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	s.stopLocked()
	return nil
}

// status is the shipping's state, nil without a server.
func (s *loggingStage) status() *logship.Status {
	s.mu.Lock()
	ship := s.ship
	s.mu.Unlock()
	if ship == nil {
		return nil
	}
	st := ship.Status()
	return &st
}

// shipLog ships one log from its start until ctx ends or the log does
// (a workload that left the config).
func (s *loggingStage) shipLog(ctx context.Context, ship *logship.Shipper, name, kind string) {
	lines, more, ok := s.follow(ctx, name, true)
	if !ok {
		return
	}
	workload := name
	if name == api.BootLog {
		workload = ""
	}
	send := func(l api.LogLine) {
		r := logship.Record{Kind: kind, Workload: workload, Text: l.Text, Severity: logship.SevInfo, Time: time.Now()}
		if workload == "" {
			// PID 1's lines carry their time since boot.
			r.Time = time.Now().Add(l.Time - s.uptime())
			r.Severity = logship.SeverityOf(l.Text)
		}
		ship.Send(r)
	}
	for _, l := range lines {
		send(l)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case l, ok := <-more:
			if !ok {
				return
			}
			send(l)
		}
	}
}

// scanWorkloads follows every workload's output from the time it
// appears until it leaves.
func (s *loggingStage) scanWorkloads(ctx context.Context, ship *logship.Shipper) {
	var mu sync.Mutex
	following := map[string]bool{}
	t := time.NewTicker(workloadScan)
	defer t.Stop()
	for {
		for _, w := range s.workloads() {
			mu.Lock()
			seen := following[w.Name]
			following[w.Name] = true
			mu.Unlock()
			if seen {
				continue
			}
			s.log.goSafe("logging: "+w.Name, func() {
				s.shipLog(ctx, ship, w.Name, w.Kind)
				mu.Lock()
				delete(following, w.Name)
				mu.Unlock()
			})
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
