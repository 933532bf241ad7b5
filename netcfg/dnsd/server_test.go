package dnsd

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// upstream is a resolver on the loopback that answers every A query with
// 192.0.2.1 and counts the queries.
func upstream(t *testing.T) (port int, queries *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	queries = new(atomic.Int32)
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		queries.Add(1)
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300},
			A: net.ParseIP("192.0.2.1")})
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().(*net.UDPAddr).Port, queries
}

// query sends one question from the local address from over network.
func query(t *testing.T, network, from string, to net.Addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 3 * time.Second}
	if network == "udp" {
		c.Dialer = &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(from)}, Timeout: 3 * time.Second}
	} else {
		c.Dialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 3 * time.Second}
	}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	r, _, err := c.Exchange(m, to.String())
	if err != nil {
		t.Fatalf("%s %s from %s: %v", network, name, from, err)
	}
	return r
}

func summary(r *dns.Msg) string {
	s := dns.RcodeToString[r.Rcode]
	for _, rr := range r.Answer {
		switch a := rr.(type) {
		case *dns.A:
			s += " " + a.A.String()
		case *dns.AAAA:
			s += " " + a.AAAA.String()
		}
	}
	return s
}

// The server on in-process sockets: local names from the config and the
// leases, forwarding with a cache, failure without upstream, and refusal
// of a source outside the served subnet with its positive control.
func TestAnswers(t *testing.T) {
	port, upQueries := upstream(t)
	var ups atomic.Value
	ups.Store([]netip.Addr{netip.MustParseAddr("127.0.0.1")})
	s := New(Options{
		Port: 0, UpstreamPort: port, Timeout: 500 * time.Millisecond,
		Lookup: func(name string) []netip.Addr {
			if name == "web" {
				return []netip.Addr{netip.MustParseAddr("10.0.10.100")}
			}
			return nil
		},
		Upstreams: func() []netip.Addr { return ups.Load().([]netip.Addr) },
	})
	s.o.Port = 0
	defer s.Close()
	// Served: 127.0.0.1 with the subnet 127.0.0.0/30 (.1 to .3 are
	// "the VLAN"); 127.0.0.5 is outside it, like the lab network.
	err := s.Apply(Spec{Domain: "lab", Listen: []Listener{{Address: netip.MustParsePrefix("127.0.0.1/30")}},
		Hosts: []Host{{Name: "vm1", Addresses: []netip.Addr{netip.MustParseAddr("10.0.10.5")}},
			{Name: "vm6", Addresses: []netip.Addr{netip.MustParseAddr("10.0.10.6"), netip.MustParseAddr("fd00:10::6")}}},
		Self: "nuc1"})
	if err != nil {
		t.Fatal(err)
	}
	to := s.Addr(netip.MustParseAddr("127.0.0.1"))
	for _, tc := range []struct {
		name, net, from, q string
		qtype              uint16
		want               string
	}{
		{"config name", "udp", "127.0.0.2", "vm1.lab.", dns.TypeA, "NOERROR 10.0.10.5"},
		{"upper case", "udp", "127.0.0.2", "VM1.Lab.", dns.TypeA, "NOERROR 10.0.10.5"},
		{"lease name", "udp", "127.0.0.2", "web.lab.", dns.TypeA, "NOERROR 10.0.10.100"},
		{"over tcp", "tcp", "127.0.0.2", "web.lab.", dns.TypeA, "NOERROR 10.0.10.100"},
		{"unknown name", "udp", "127.0.0.2", "nobody.lab.", dns.TypeA, "NXDOMAIN"},
		{"sub-name", "udp", "127.0.0.2", "a.vm1.lab.", dns.TypeA, "NXDOMAIN"},
		{"no AAAA", "udp", "127.0.0.2", "vm1.lab.", dns.TypeAAAA, "NOERROR"},
		{"AAAA", "udp", "127.0.0.2", "vm6.lab.", dns.TypeAAAA, "NOERROR fd00:10::6"},
		{"A beside AAAA", "udp", "127.0.0.2", "vm6.lab.", dns.TypeA, "NOERROR 10.0.10.6"},
		{"both for ANY", "tcp", "127.0.0.2", "vm6.lab.", dns.TypeANY, "NOERROR 10.0.10.6 fd00:10::6"},
		{"the box", "udp", "127.0.0.2", "nuc1.lab.", dns.TypeA, "NOERROR 127.0.0.1"},
		{"the box has no IPv6 here", "udp", "127.0.0.2", "nuc1.lab.", dns.TypeAAAA, "NOERROR"},
		{"forwarded", "udp", "127.0.0.2", "example.com.", dns.TypeA, "NOERROR 192.0.2.1"},
		{"forwarded again: cached", "udp", "127.0.0.3", "example.com.", dns.TypeA, "NOERROR 192.0.2.1"},
		{"from outside the subnet: refused", "udp", "127.0.0.5", "vm1.lab.", dns.TypeA, "REFUSED"},
		{"from outside over tcp: refused", "tcp", "127.0.0.5", "example.org.", dns.TypeA, "REFUSED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := summary(query(t, tc.net, tc.from, to, tc.q, tc.qtype)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if n := upQueries.Load(); n != 1 {
		t.Errorf("upstream saw %d queries, want 1 (the second is cached; the refused one never forwarded)", n)
	}
	ups.Store([]netip.Addr(nil))
	if got := summary(query(t, "udp", "127.0.0.2", to, "other.example.", dns.TypeA)); got != "SERVFAIL" {
		t.Errorf("without upstream: %q, want SERVFAIL", got)
	}
}

// A new Spec changes names and domain without restarting listeners.
func TestApplyRenames(t *testing.T) {
	s := New(Options{})
	s.o.Port = 0
	defer s.Close()
	l := Listener{Address: netip.MustParsePrefix("127.0.0.1/30")}
	if err := s.Apply(Spec{Domain: "lab", Listen: []Listener{l}, Hosts: []Host{{Name: "a", Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.1")}}}}); err != nil {
		t.Fatal(err)
	}
	to := s.Addr(netip.MustParseAddr("127.0.0.1"))
	if err := s.Apply(Spec{Domain: "home.arpa", Listen: []Listener{l}, Hosts: []Host{{Name: "b", Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.2")}}}}); err != nil {
		t.Fatal(err)
	}
	if s.Addr(netip.MustParseAddr("127.0.0.1")).String() != to.String() {
		t.Error("the listener was restarted")
	}
	if got := summary(query(t, "udp", "127.0.0.1", to, "b.home.arpa.", dns.TypeA)); got != "NOERROR 10.0.0.2" {
		t.Errorf("new name: %q", got)
	}
	if got := summary(query(t, "udp", "127.0.0.1", to, "a.lab.", dns.TypeA)); got != "SERVFAIL" {
		t.Errorf("old domain: %q, want SERVFAIL (forwarded, no upstream)", got)
	}
}
