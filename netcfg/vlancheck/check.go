package vlancheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"
)

// Target is one tagged VLAN of the uplink to check.
type Target struct {
	VLAN int `json:"vlan"`
	// Gateway is the lab's router on the VLAN, asked by ARP; invalid:
	// none configured, so a DHCP discover is sent instead.
	Gateway netip.Addr `json:"gateway,omitzero"`
	// Source is the box's own address on the VLAN, the ARP sender;
	// invalid: 0.0.0.0, an RFC 5227 probe.
	Source netip.Addr `json:"source,omitzero"`
}

// Probe names.
const (
	ProbeARP  = "arp"
	ProbeDHCP = "dhcp"
)

// States of a Result.
const (
	Checking   = "checking"
	Carried    = "carried"
	NotCarried = "not-carried" // the gateway did not answer ARP
	NoAnswer   = "no-answer"   // no DHCP server answered
	Failed     = "failed"      // the probe could not be sent
)

// Result is the verdict on one VLAN.
type Result struct {
	VLAN    int    `json:"vlan"`
	Probe   string `json:"probe"`
	Gateway string `json:"gateway,omitempty"`
	State   string `json:"state"`
	// Answer says who answered: the gateway's MAC, or the DHCP server's
	// address and MAC.
	Answer string    `json:"answer,omitempty"`
	Error  string    `json:"error,omitempty"`
	Time   time.Time `json:"time"`
}

// String is the verdict in words, as the status and the log show it.
func (r Result) String() string {
	switch r.State {
	case Checking:
		if r.Probe == ProbeARP {
			return fmt.Sprintf("checking VLAN %d: ARP for the gateway %s", r.VLAN, r.Gateway)
		}
		return fmt.Sprintf("checking VLAN %d: DHCP discover", r.VLAN)
	case Carried:
		if r.Probe == ProbeARP {
			return fmt.Sprintf("VLAN %d is carried: the gateway %s answered ARP from %s", r.VLAN, r.Gateway, r.Answer)
		}
		return fmt.Sprintf("VLAN %d is carried: a DHCP server answered (%s)", r.VLAN, r.Answer)
	case NotCarried:
		return fmt.Sprintf("the switch port does not carry VLAN %d: the gateway %s did not answer ARP", r.VLAN, r.Gateway)
	case NoAnswer:
		return fmt.Sprintf("no answer on VLAN %d (no gateway configured, no DHCP server answered)", r.VLAN)
	default:
		return fmt.Sprintf("VLAN %d not checked: %s", r.VLAN, r.Error)
	}
}

// Conn puts tagged frames on the uplink and reads the tagged frames that
// come in on it.
type Conn interface {
	// Send sends an untagged Ethernet frame tagged with vlan.
	Send(vlan int, frame []byte) error
	// Recv reads the next frame that came in tagged, without its tag,
	// and its VLAN; at deadline it fails with os.ErrDeadlineExceeded.
	Recv(buf []byte, deadline time.Time) (n, vlan int, err error)
	Close() error
}

// Options bound a check.
type Options struct {
	// Tries is how often an unanswered probe is sent (default 4),
	// Interval the wait after each (default 1s): silence is a verdict
	// after Tries*Interval.
	Tries    int
	Interval time.Duration
}

func (o Options) orDefault() Options {
	if o.Tries <= 0 {
		o.Tries = 4
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	return o
}

// Pending are the results before the check: one per target, checking.
func Pending(targets []Target) []Result {
	out := make([]Result, len(targets))
	for i, t := range targets {
		out[i] = Result{VLAN: t.VLAN, Probe: ProbeDHCP, State: Checking, Time: time.Now()}
		if t.Gateway.IsValid() {
			out[i].Probe, out[i].Gateway = ProbeARP, t.Gateway.String()
		}
	}
	return out
}

// probe is one VLAN's frame and how to tell its answer.
type probe struct {
	i     int
	frame []byte
	match func(frame []byte) (answer string, ok bool)
}

// Check probes every target on c, mac being the uplink's: all VLANs at
// once, each until it is answered or has been tried o.Tries times. It
// returns a result per target, in their order. Cancelling ctx ends it
// early only if the caller also closes c.
func Check(ctx context.Context, c Conn, mac net.HardwareAddr, targets []Target, o Options) []Result {
	o = o.orDefault()
	res := Pending(targets)
	pending := map[int]*probe{} // by VLAN
	for i, t := range targets {
		var p *probe
		var err error
		if t.Gateway.IsValid() {
			p, err = arpProbe(mac, t.Source, t.Gateway)
		} else {
			p, err = dhcpProbe(mac)
		}
		if err != nil {
			res[i].State, res[i].Error = Failed, err.Error()
			continue
		}
		p.i = i
		pending[t.VLAN] = p
	}
	buf := make([]byte, 9216)
	for try := 0; try < o.Tries && len(pending) > 0 && ctx.Err() == nil; try++ {
		for vlan, p := range pending {
			if err := c.Send(vlan, p.frame); err != nil {
				res[p.i].State, res[p.i].Error = Failed, "sending: "+err.Error()
				delete(pending, vlan)
			}
		}
		deadline := time.Now().Add(o.Interval)
		for len(pending) > 0 {
			n, vlan, err := c.Recv(buf, deadline)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				for _, p := range pending {
					res[p.i].State, res[p.i].Error = Failed, "reading: "+err.Error()
				}
				return stamp(res)
			}
			p := pending[vlan]
			if p == nil {
				continue
			}
			if ans, ok := p.match(buf[:n]); ok {
				res[p.i].State, res[p.i].Answer = Carried, ans
				delete(pending, vlan)
			}
		}
	}
	for _, p := range pending {
		if ctx.Err() != nil {
			res[p.i].State, res[p.i].Error = Failed, "stopped before an answer"
			continue
		}
		res[p.i].State = NoAnswer
		if res[p.i].Probe == ProbeARP {
			res[p.i].State = NotCarried
		}
	}
	return stamp(res)
}

func stamp(res []Result) []Result {
	now := time.Now()
	for i := range res {
		res[i].Time = now
	}
	return res
}
