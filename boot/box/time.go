package box

import (
	"context"
	"sync"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/internal/safe"
	"github.com/nucbox/nucbox/netcfg/timesync"
)

// insaneClockWait bounds how long an apply waits for NTP when the clock
// cannot be right: long enough for a server on the lab network, short
// enough that a box without one still gets its workloads soon.
const insaneClockWait = 10 * time.Second

// timeStage keeps the clock synced with the servers the config names,
// else those of the uplink's lease, else the public pool. It runs after
// the network, which it needs, and before the workloads, whose image
// pulls check certificates.
type timeStage struct {
	log logger
	// clock is nil where the box must leave the clock alone (tests).
	clock *timesync.Clock
	// leaseNTP are the NTP servers of the uplink's DHCP lease.
	leaseNTP func() []string
	// now is the wall clock (tests set it).
	now func() time.Time

	once sync.Once
}

func (*timeStage) Name() string { return plan.StageTime }

func (t *timeStage) Apply(ctx context.Context, d *plan.Desired) error {
	if t.clock == nil {
		return nil
	}
	servers, source := d.Time.Servers, "config"
	if len(servers) == 0 {
		servers, source = t.leaseNTP(), "dhcp"
	}
	if len(servers) == 0 {
		servers, source = timesync.DefaultServers, "default"
	}
	t.clock.SetServers(servers, source)
	t.once.Do(func() {
		safe.Loop(context.Background(), t.log.Printf, "time sync", safe.DefaultBackoff, func(ctx context.Context) error {
			t.clock.Run(ctx)
			return nil
		})
	})
	now := time.Now
	if t.now != nil {
		now = t.now
	}
	if at := now(); !timesync.Sane(at) && !t.clock.Status().Synced {
		t.log.Printf("the clock reads %s, which cannot be right: waiting up to %s for NTP (%s) before the workloads start",
			at.UTC().Format(time.RFC3339), insaneClockWait, source)
		wctx, cancel := context.WithTimeout(ctx, insaneClockWait)
		defer cancel()
		if err := t.clock.Sync(wctx); err != nil {
			t.log.Printf("warning: %v; going on with the clock at %s", err, now().UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// timeState is the clock for the API.
func timeState(c *timesync.Clock) *api.TimeState {
	if c == nil {
		return nil
	}
	st := c.Status()
	return &api.TimeState{Now: time.Now(), Servers: st.Servers, Source: st.Source, Synced: st.Synced,
		Server: st.Server, Offset: api.Duration(st.Offset), RTT: api.Duration(st.RTT), Stratum: st.Stratum,
		Stepped: st.Stepped, At: st.At, Error: st.Error}
}
