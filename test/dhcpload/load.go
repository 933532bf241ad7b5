package dhcpload

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// Options shape a run.
type Options struct {
	// Clients is how many distinct clients ask for a lease.
	Clients int
	// InFlight bounds the exchanges under way at once (default 16).
	InFlight int
	// Timeout bounds one client's whole exchange (default 5 s).
	Timeout time.Duration
	// Resend is how long a message waits for its answer before it is
	// sent again within the exchange's Timeout (default 1 s).
	Resend time.Duration
	// MACPrefix is the first 3 bytes of every client's MAC (default
	// 02:d1:00, locally administered); the last 3 are the client's index.
	MACPrefix [3]byte
}

// Result is what a run measured.
type Result struct {
	// Leases is each acknowledged client's address, by MAC.
	Leases map[string]netip.Addr
	// Failed is why each client without a lease got none, by MAC.
	Failed map[string]error
	// Elapsed runs from the first DISCOVER to the last exchange's end.
	Elapsed time.Duration
}

// Rate is acknowledged leases per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(len(r.Leases)) / r.Elapsed.Seconds()
}

// MAC is client i's hardware address.
func (o Options) MAC(i int) net.HardwareAddr {
	p := o.MACPrefix
	if p == [3]byte{} {
		p = [3]byte{0x02, 0xd1, 0x00}
	}
	return net.HardwareAddr{p[0], p[1], p[2], byte(i >> 16), byte(i >> 8), byte(i)}
}

// Open is a client socket on iface, port 68, for Run; call it inside
// the namespace that holds iface.
func Open(iface string) (net.PacketConn, error) {
	return nclient4.NewRawUDPConn(iface, dhcpv4.ClientPort)
}

// Run makes o.Clients clients get a lease over conn and closes conn at
// the end.
func Run(conn net.PacketConn, o Options) Result {
	if o.InFlight <= 0 {
		o.InFlight = 16
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Resend <= 0 {
		o.Resend = time.Second
	}
	d := &dispatcher{conn: conn, waiting: map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4{}}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		d.read()
	}()

	res := Result{Leases: map[string]netip.Addr{}, Failed: map[string]error{}}
	var mu sync.Mutex
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range min(o.InFlight, o.Clients) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				mac := o.MAC(i)
				addr, err := d.exchange(mac, o)
				mu.Lock()
				if err != nil {
					res.Failed[mac.String()] = err
				} else {
					res.Leases[mac.String()] = addr
				}
				mu.Unlock()
			}
		}()
	}
	for i := range o.Clients {
		next <- i
	}
	close(next)
	wg.Wait()
	res.Elapsed = time.Since(start)
	conn.Close()
	<-readerDone
	return res
}

// dispatcher hands replies read from conn to the exchange waiting for
// their transaction ID.
type dispatcher struct {
	conn    net.PacketConn
	mu      sync.Mutex
	waiting map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4
}

// read runs until conn is closed.
func (d *dispatcher) read() {
	buf := make([]byte, 1500)
	for {
		n, _, err := d.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		m, err := dhcpv4.FromBytes(buf[:n])
		if err != nil || m.OpCode != dhcpv4.OpcodeBootReply {
			continue
		}
		d.mu.Lock()
		ch := d.waiting[m.TransactionID]
		d.mu.Unlock()
		if ch != nil {
			select {
			case ch <- m:
			default: // a duplicate the exchange has no room for
			}
		}
	}
}

var errNak = errors.New("NAK")

// exchange is one client's DISCOVER, OFFER, REQUEST, ACK; it returns the
// acknowledged address.
func (d *dispatcher) exchange(mac net.HardwareAddr, o Options) (netip.Addr, error) {
	deadline := time.Now().Add(o.Timeout)
	discover, err := dhcpv4.NewDiscovery(mac, dhcpv4.WithBroadcast(true))
	if err != nil {
		return netip.Addr{}, err
	}
	ch := make(chan *dhcpv4.DHCPv4, 4)
	d.mu.Lock()
	if d.waiting[discover.TransactionID] != nil {
		d.mu.Unlock()
		return netip.Addr{}, fmt.Errorf("transaction ID %s in use", discover.TransactionID)
	}
	d.waiting[discover.TransactionID] = ch
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.waiting, discover.TransactionID)
		d.mu.Unlock()
	}()

	offer, err := d.ask(discover, ch, deadline, o.Resend, mac, dhcpv4.MessageTypeOffer)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("no offer: %w", err)
	}
	req, err := dhcpv4.NewRequestFromOffer(offer, dhcpv4.WithBroadcast(true))
	if err != nil {
		return netip.Addr{}, err
	}
	ack, err := d.ask(req, ch, deadline, o.Resend, mac, dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("no ACK for %s: %w", offer.YourIPAddr, err)
	}
	if ack.MessageType() == dhcpv4.MessageTypeNak {
		return netip.Addr{}, fmt.Errorf("request for %s: %w (%s)", offer.YourIPAddr, errNak, ack.Message())
	}
	a, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || a.IsUnspecified() {
		return netip.Addr{}, fmt.Errorf("ACK without an address")
	}
	return a, nil
}

// ask sends m, again every resend, until a reply of one of the types
// arrives for mac or the deadline passes.
func (d *dispatcher) ask(m *dhcpv4.DHCPv4, ch chan *dhcpv4.DHCPv4, deadline time.Time, resend time.Duration,
	mac net.HardwareAddr, types ...dhcpv4.MessageType) (*dhcpv4.DHCPv4, error) {
	dst := &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort}
	b := m.ToBytes()
	for {
		if _, err := d.conn.WriteTo(b, dst); err != nil {
			return nil, err
		}
		wait := min(resend, time.Until(deadline))
		if wait <= 0 {
			return nil, fmt.Errorf("timed out")
		}
		t := time.NewTimer(wait)
	recv:
		for {
			select {
			case r := <-ch:
				if r.ClientHWAddr.String() != mac.String() {
					continue
				}
				for _, typ := range types {
					if r.MessageType() == typ {
						t.Stop()
						return r, nil
					}
				}
			case <-t.C:
				break recv
			}
		}
	}
}
