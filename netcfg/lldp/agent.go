package lldp

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/internal/safe"
)

// DefaultInterval is how often the box sends its frame (802.1AB's
// msgTxInterval).
const DefaultInterval = 30 * time.Second

// Options configure an Agent on one link.
type Options struct {
	Link string
	// Local is what the box advertises, asked before each frame; nil
	// listens only.
	Local func() Local
	// Interval between the box's frames (default DefaultInterval).
	Interval time.Duration
	Logf     func(format string, args ...any)
	// Open opens the packet socket on the link (tests open it in a
	// namespace); default: in the caller's.
	Open func(link string) (*packet.Conn, error)
}

// Agent listens for neighbours on one link and advertises the box there.
type Agent struct {
	o Options

	mu        sync.Mutex
	neighbors map[string]Neighbor // by chassis and port
}

// New makes an Agent; Run runs it.
func New(o Options) *Agent {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Open == nil {
		o.Open = Open
	}
	return &Agent{o: o, neighbors: map[string]Neighbor{}}
}

// Open is a packet socket for LLDP frames on the named link.
func Open(link string) (*packet.Conn, error) {
	ifi, err := net.InterfaceByName(link)
	if err != nil {
		return nil, err
	}
	return packet.Listen(ifi, packet.Raw, unix.ETH_P_LLDP, nil)
}

// Neighbors are the neighbours whose time to live has not run out,
// sorted by system name and port.
func (a *Agent) Neighbors() []Neighbor {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	var out []Neighbor
	for k, n := range a.neighbors {
		if now.Sub(n.LastSeen) > n.TTL {
			delete(a.neighbors, k)
			continue
		}
		n.MgmtAddresses = slices.Clone(n.MgmtAddresses)
		out = append(out, n)
	}
	slices.SortFunc(out, func(x, y Neighbor) int {
		if c := strings.Compare(x.SystemName, y.SystemName); c != 0 {
			return c
		}
		return strings.Compare(x.PortID, y.PortID)
	})
	return out
}

// Run listens and advertises until ctx ends; it returns the error that
// ended it otherwise (the link went away).
func (a *Agent) Run(ctx context.Context) error {
	c, err := a.o.Open(a.o.Link)
	if err != nil {
		return err
	}
	defer c.Close()
	readErr := make(chan error, 1)
	safe.Go(a.o.Logf, "lldp reader on "+a.o.Link, func() { readErr <- a.read(ctx, c) })
	t := time.NewTicker(a.o.Interval)
	defer t.Stop()
	for {
		if a.o.Local != nil {
			if err := a.send(c); err != nil {
				a.o.Logf("lldp: warning: sending on %s: %v", a.o.Link, err)
			}
		}
		select {
		case <-ctx.Done():
			c.Close()
			<-readErr
			return nil
		case err := <-readErr:
			return err
		case <-t.C:
		}
	}
}

func (a *Agent) send(c *packet.Conn) error {
	f, err := Frame(a.o.Local())
	if err != nil {
		return err
	}
	_, err = c.WriteTo(f, &packet.Addr{HardwareAddr: Multicast})
	return err
}

func (a *Agent) read(ctx context.Context, c *packet.Conn) error {
	buf := make([]byte, 9000)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		nb, err := Parse(buf[:n])
		if err != nil {
			continue
		}
		a.seen(nb)
	}
}

// seen keeps a neighbour, and logs one that is new or says something
// new about itself.
func (a *Agent) seen(n Neighbor) {
	n.Link, n.LastSeen = a.o.Link, time.Now()
	key := n.ChassisID + "\x00" + n.PortID
	a.mu.Lock()
	old, known := a.neighbors[key]
	a.neighbors[key] = n
	a.mu.Unlock()
	if n.TTL == 0 {
		a.o.Logf("lldp: %s: %s port %s is shutting down", a.o.Link, name(n), n.PortID)
		return
	}
	if !known || old.SystemName != n.SystemName || old.PortDescription != n.PortDescription || time.Since(old.LastSeen) > old.TTL {
		a.o.Logf("lldp: %s is plugged into %s port %s%s", a.o.Link, name(n), n.PortID, desc(n.PortDescription))
	}
}

func name(n Neighbor) string {
	if n.SystemName != "" {
		return n.SystemName
	}
	return n.ChassisID
}

func desc(d string) string {
	if d == "" {
		return ""
	}
	return " (" + d + ")"
}
