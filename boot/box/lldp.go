package box

import (
	"context"
	"net"
	"sync"

	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/config/plan"
	"github.com/nucbox/nucbox/internal/safe"
	"github.com/nucbox/nucbox/netcfg/lldp"
)

// lldpStage runs LLDP on the uplink the network stage selected: it shows
// which switch port the box is plugged into and, unless the config says
// listen or off, tells the switch who the box is. It also starts the
// check that the port carries the uplink's tagged VLANs (vlancheck.go).
type lldpStage struct {
	log   logger
	net   *networkStage
	vlans vlanChecker

	mu     sync.Mutex
	agent  *lldp.Agent
	key    string // link and mode the agent runs with
	cancel context.CancelFunc
	done   <-chan struct{}
}

func (*lldpStage) Name() string { return plan.StageLLDP }

func (s *lldpStage) Apply(ctx context.Context, d *plan.Desired) error {
	link := ""
	if st := s.net.status(); st != nil {
		link = st.Uplink
	}
	s.vlans.start(link, d.VLANCheck)
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.LLDP == config.LLDPOff || d.LLDP == "" || link == "" {
		s.stopLocked()
		return nil
	}
	key := link + " " + d.LLDP
	if s.agent != nil && s.key == key {
		return nil
	}
	s.stopLocked()
	o := lldp.Options{Link: link, Logf: s.log.logf}
	if d.LLDP == config.LLDPAdvertise {
		o.Local = func() lldp.Local { return s.local(link) }
	}
	ag := lldp.New(o)
	rctx, cancel := context.WithCancel(context.Background())
	// A link that went away (a NIC unplugged) ends the agent: it tries
	// again until the link is back or the config changes.
	s.done = safe.Loop(rctx, s.log.logf, "lldp on "+link, safe.DefaultBackoff, ag.Run)
	s.agent, s.key, s.cancel = ag, key, cancel
	return nil
}

// local is what the box advertises on link.
func (s *lldpStage) local(link string) lldp.Local {
	l := lldp.Local{Port: link, SystemDesc: "nucbox lab appliance"}
	if ifi, err := net.InterfaceByName(link); err == nil {
		l.MAC = ifi.HardwareAddr
	}
	if name, ok := hostname(); ok {
		l.SystemName = name
	}
	if st := s.net.status(); st != nil {
		if st.Bridge != "" {
			l.PortDesc = "uplink of " + st.Bridge
		}
		if len(st.Addresses) > 0 {
			l.MgmtAddress = st.Addresses[0].Addr()
		}
	}
	return l
}

func (s *lldpStage) stopLocked() {
	if s.agent == nil {
		return
	}
	s.cancel()
	<-s.done
	s.agent, s.key, s.cancel, s.done = nil, "", nil, nil
}

func (s *lldpStage) Stop(ctx context.Context) error {
	s.vlans.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
	return nil
}

// neighbors are the uplink's LLDP neighbours now.
func (s *lldpStage) neighbors() []lldp.Neighbor {
	s.mu.Lock()
	ag := s.agent
	s.mu.Unlock()
	if ag == nil {
		return nil
	}
	return ag.Neighbors()
}
