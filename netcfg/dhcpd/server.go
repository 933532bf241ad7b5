package dhcpd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"

	"github.com/nucbox/nucbox/internal/linksock"
	"github.com/nucbox/nucbox/internal/safe"
)

// Options configure a Server.
type Options struct {
	// Dir keeps the leases (the data partition's); empty keeps them in
	// memory only.
	Dir string
	// Logf prints one line of the box's log.
	Logf func(format string, args ...any)
	// Now is the clock (tests).
	Now func() time.Time
	// BootOptions are options added to an OFFER or ACK on vlan's scope
	// for req: where boot firmware boots from, when the box serves
	// network boots there (netcfg/pxed); nil adds none.
	BootOptions func(vlan int, req *dhcpv4.DHCPv4) []dhcpv4.Modifier
}

// Server is every DHCP scope of the box, with one lease table.
type Server struct {
	o Options

	mu      sync.Mutex
	t       *table
	scopes  map[int]*Scope  // by VLAN
	running map[int]*runner // by VLAN
	saveErr error           // the last failed save, logged once
}

// runner is the socket and loop serving one scope's interface.
type runner struct {
	iface  string
	index  int // the link's index when the socket was bound
	cancel context.CancelFunc
	mu     sync.Mutex
	conn   net.PacketConn
}

// New makes a server with the leases saved in o.Dir.
func New(o Options) (*Server, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{o: o, t: newTable(), scopes: map[int]*Scope{}, running: map[int]*runner{}}
	if err := s.t.load(o.Dir); err != nil {
		o.Logf("dhcp: leases in %s unreadable, starting empty (the file is left as it is until the next lease): %v", o.Dir, err)
	}
	return s, nil
}

// Apply serves spec: a scope whose interface did not change keeps its
// socket and takes the new settings at its next message; others are
// stopped or started. uplink names the link of scopes without an
// Interface (the native VLAN). Leases of every VLAN are kept, so a scope
// that comes back finds its clients' addresses.
func (s *Server) Apply(spec Spec, uplink string) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[int]*Scope{}
	for i := range spec.Scopes {
		sc := spec.Scopes[i]
		if sc.Interface == "" {
			sc.Interface = uplink
		}
		want[sc.VLAN] = &sc
	}
	for vlan, r := range s.running {
		// A link deleted and made again has a new index, and a socket
		// bound to the old one hears nothing: bind again.
		if sc := want[vlan]; sc == nil || sc.Interface != r.iface || linksock.Index(r.iface) != r.index {
			r.stop()
			delete(s.running, vlan)
		}
	}
	s.scopes = want
	var errs []error
	for vlan, sc := range want {
		if s.running[vlan] != nil {
			continue
		}
		r, err := s.start(vlan, sc.Interface)
		if err != nil {
			errs = append(errs, fmt.Errorf("dhcp on %s (VLAN %d): %w", sc.Interface, vlan, err))
			continue
		}
		s.running[vlan] = r
	}
	return errors.Join(errs...)
}

// start opens vlan's socket on iface and serves it from a loop under
// safe: a panic on one packet is logged and the loop goes on reading.
func (s *Server) start(vlan int, iface string) (*runner, error) {
	conn, err := listen(iface)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{iface: iface, index: linksock.Index(iface), cancel: cancel, conn: conn}
	name := fmt.Sprintf("dhcp server on %s", iface)
	safe.Loop(ctx, s.o.Logf, name, safe.DefaultBackoff, func(ctx context.Context) error {
		c, err := r.socket(ctx)
		if err != nil {
			return err
		}
		if err := s.serve(ctx, vlan, c); err != nil {
			r.drop(c)
			return err
		}
		return nil
	})
	return r, nil
}

// listen opens the server's socket bound to iface, port 67.
func listen(iface string) (net.PacketConn, error) {
	return server4.NewIPv4UDPConn(iface, &net.UDPAddr{Port: dhcpv4.ServerPort})
}

// socket is the runner's socket, reopened after a failure.
func (r *runner) socket(ctx context.Context) (net.PacketConn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if r.conn == nil {
		c, err := listen(r.iface)
		if err != nil {
			return nil, err
		}
		r.conn = c
	}
	return r.conn, nil
}

// drop closes a socket that failed, so that the next run binds anew.
func (r *runner) drop(c net.PacketConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.Close()
	if r.conn == c {
		r.conn = nil
	}
}

func (r *runner) stop() {
	r.cancel()
	r.mu.Lock()
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
	r.mu.Unlock()
}

// serve reads and answers messages until ctx ends or the socket fails.
func (s *Server) serve(ctx context.Context, vlan int, conn net.PacketConn) error {
	bufs := make([][]byte, maxBatch)
	for i := range bufs {
		bufs[i] = make([]byte, 1500)
	}
	for {
		n, _, err := conn.ReadFrom(bufs[0])
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		msgs := drain(conn, bufs, [][]byte{bufs[0][:n]})
		reqs := make([]*dhcpv4.DHCPv4, 0, len(msgs))
		for _, m := range msgs {
			if req, err := dhcpv4.FromBytes(m); err == nil {
				reqs = append(reqs, req)
			}
		}
		for _, a := range s.answer(vlan, reqs) {
			if _, err := conn.WriteTo(a.reply.ToBytes(), a.dst); err != nil {
				s.o.Logf("dhcp: VLAN %d: reply to %s: %v", vlan, a.reply.ClientHWAddr, err)
			}
		}
	}
}

// reply is an answer and where it goes.
type reply struct {
	reply *dhcpv4.DHCPv4
	dst   *net.UDPAddr
}

// answer handles reqs on vlan's scope, in order, and saves the leases
// once for all of them before any reply leaves, so that an ACK is on
// disk when the client has it. A reply goes to the client's address when
// it has one (a renewal), else broadcast, since a client without an
// address cannot answer ARP for the one offered.
func (s *Server) answer(vlan int, reqs []*dhcpv4.DHCPv4) []reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.scopes[vlan]
	if sc == nil {
		return nil
	}
	now := s.o.Now()
	var out []reply
	save := false
	for _, req := range reqs {
		r, changed := s.t.handle(sc, req, now)
		save = save || changed
		if r == nil {
			continue
		}
		if t := r.MessageType(); s.o.BootOptions != nil && (t == dhcpv4.MessageTypeOffer || t == dhcpv4.MessageTypeAck) {
			for _, m := range s.o.BootOptions(vlan, req) {
				m(r)
			}
		}
		if r.MessageType() == dhcpv4.MessageTypeAck && r.YourIPAddr != nil && !r.YourIPAddr.IsUnspecified() {
			s.o.Logf("dhcp: VLAN %d: %s %s%s", vlan, req.ClientHWAddr, r.YourIPAddr, nameOf(s.t.leases[key{vlan, req.ClientHWAddr.String()}]))
		}
		dst := &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort}
		if r.MessageType() != dhcpv4.MessageTypeNak && addrOf(req.ClientIPAddr).IsValid() {
			dst.IP = req.ClientIPAddr
		}
		out = append(out, reply{r, dst})
	}
	if save {
		s.saveLocked()
	}
	return out
}

func nameOf(l *Lease) string {
	switch {
	case l == nil:
		return ""
	case l.Name != "":
		return " (" + l.Name + ")"
	case l.Hostname != "":
		return " (host name " + l.Hostname + ")"
	}
	return ""
}

func (s *Server) saveLocked() {
	err := s.t.save(s.o.Dir)
	if err != nil && s.saveErr == nil {
		s.o.Logf("dhcp: saving leases in %s: %v (kept in memory)", s.o.Dir, err)
	}
	s.saveErr = err
}

// Close stops every scope. The leases stay saved.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for vlan, r := range s.running {
		r.stop()
		delete(s.running, vlan)
	}
}

// Leases are the acknowledged leases, active or expired, by VLAN and
// address.
func (s *Server) Leases() []Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t.list()
}

// Lookup is the addresses that name (a DNS label, lower case) has in the
// active leases: a workload's by its config name first; a client's host
// name only when no workload of the config has that name, so that a
// client cannot take a workload's name.
func (s *Server) Lookup(name string) []netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.o.Now()
	var byName, byHost []netip.Addr
	known := false
	for _, sc := range s.scopes {
		for _, h := range sc.Hosts {
			known = known || h.Name == name
		}
	}
	for _, l := range s.t.leases {
		if l.offered || !l.Active(now) || s.scopes[l.VLAN] == nil {
			continue
		}
		switch {
		case l.Name == name:
			byName = append(byName, l.Address)
		case l.Hostname == name && l.Name == "":
			byHost = append(byHost, l.Address)
		}
	}
	out := byName
	if !known && len(out) == 0 {
		out = byHost
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}
