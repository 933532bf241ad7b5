package box

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/netcfg/timesync"
)

// The time stage asks the config's servers, else the lease's, else the
// public pool; with a clock that cannot be right it waits for the first
// answer before the workloads, and with a sane clock it leaves the sync
// to run beside them.
func TestTimeStage(t *testing.T) {
	sane := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		config     []string
		lease      []string
		clock      time.Time
		wantSource string
		wantAsked  []string // before Apply returned
	}{
		{name: "config, 1990", config: []string{"ntp1:1123"}, lease: []string{"10.0.0.1"}, clock: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC),
			wantSource: "config", wantAsked: []string{"ntp1:1123"}},
		{name: "lease, 1970", lease: []string{"10.0.0.1"}, clock: time.Unix(0, 0), wantSource: "dhcp", wantAsked: []string{"10.0.0.1"}},
		{name: "default, 1970", clock: time.Unix(0, 0), wantSource: "default", wantAsked: timesync.DefaultServers},
		{name: "config, sane clock", config: []string{"ntp1"}, clock: sane, wantSource: "config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu    sync.Mutex
				asked []string
				block = make(chan struct{}) // holds the background sync
			)
			c := timesync.New(timesync.Options{
				Query: func(s string) (timesync.Sample, error) {
					mu.Lock()
					asked = append(asked, s)
					mu.Unlock()
					return timesync.Sample{Offset: time.Hour, RTT: time.Millisecond, Stratum: 1}, nil
				},
				Adjust: func(time.Duration) (bool, error) { <-block; return true, nil },
			})
			if !timesync.Sane(tc.clock) {
				close(block) // the waiting sync must get through
			} else {
				defer close(block)
			}
			var lines []string
			st := &timeStage{log: logger{logf: func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }},
				clock: c, leaseNTP: func() []string { return tc.lease }, now: func() time.Time { return tc.clock }}
			d := &plan.Desired{Time: timesync.Spec{Servers: tc.config}}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := st.Apply(ctx, d); err != nil {
				t.Fatal(err)
			}
			got := c.Status()
			if got.Source != tc.wantSource {
				t.Errorf("source %q, want %q", got.Source, tc.wantSource)
			}
			mu.Lock()
			defer mu.Unlock()
			if tc.wantAsked != nil {
				if !got.Synced || !slices.Equal(asked[:min(len(asked), len(tc.wantAsked))], tc.wantAsked) {
					t.Errorf("after Apply: synced %v, asked %q; want synced, asked %q first (log %q)", got.Synced, asked, tc.wantAsked, lines)
				}
			} else if got.Synced {
				t.Errorf("a sane clock held the apply for a sync: %+v", got)
			}
		})
	}
}

// The serve stage's NTP server answers from the box's clock: as never
// synced before the first sync (and without a clock), then at the
// upstream's stratum with its address and the sync's time.
func TestServeStageNTPUpstream(t *testing.T) {
	if up := (&serveStage{}).ntpUpstream(); up.Synced {
		t.Errorf("no clock: %+v", up)
	}
	at := time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC)
	c := timesync.New(timesync.Options{
		Query: func(string) (timesync.Sample, error) {
			return timesync.Sample{Stratum: 2, Addr: netip.MustParseAddr("192.0.2.5"), RTT: time.Millisecond, RootDelay: 3 * time.Millisecond}, nil
		},
		Adjust: func(time.Duration) (bool, error) { return false, nil },
		Now:    func() time.Time { return at },
	})
	s := &serveStage{clock: c}
	if up := s.ntpUpstream(); up.Synced {
		t.Errorf("before the first sync: %+v", up)
	}
	c.SetServers([]string{"ntp1"}, "config")
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	up := s.ntpUpstream()
	if !up.Synced || up.Stratum != 2 || up.Addr.String() != "192.0.2.5" || !up.At.Equal(at) || up.RTT != time.Millisecond || up.RootDelay != 3*time.Millisecond {
		t.Errorf("after a sync: %+v", up)
	}
}
