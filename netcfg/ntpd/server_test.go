package ntpd

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/ntp"
)

// A server on the loopback asked by beevik/ntp's client: while the box's
// clock is not synced the answer fails the client's checks (alarm,
// stratum 16); once synced it passes them, one stratum below the
// upstream, with the upstream's address as reference id and an offset
// near zero (both ends read the same clock). A listener for another
// subnet answers nobody on the loopback.
func TestServeLoopback(t *testing.T) {
	var up atomic.Pointer[Upstream]
	up.Store(&Upstream{})
	s := New(Options{Upstream: func() Upstream { return *up.Load() }, Logf: t.Logf})
	s.o.Port = 0 // any free port
	defer s.Close()
	if err := s.Apply(Spec{Listen: []Listener{{Address: netip.MustParsePrefix("127.0.0.1/8")},
		{Address: netip.MustParsePrefix("127.0.0.2/32")}}}); err != nil {
		t.Fatal(err)
	}
	ask := func(a string) (*ntp.Response, error) {
		return ntp.QueryWithOptions(s.Addr(netip.MustParseAddr(a)).String(), ntp.QueryOptions{Timeout: time.Second})
	}
	r, err := ask("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Leap != ntp.LeapNotInSync || r.Stratum != Unsynced || r.Validate() == nil {
		t.Errorf("unsynced box: leap %d stratum %d, valid %v; want alarm, 16, invalid", r.Leap, r.Stratum, r.Validate())
	}
	up.Store(&Upstream{Synced: true, Stratum: 1, Addr: netip.MustParseAddr("10.0.2.2"), At: time.Now().Add(-time.Minute), RTT: time.Millisecond})
	r, err = ask("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err != nil || r.Leap != ntp.LeapNoWarning || r.Stratum != 2 || r.ReferenceString() != "10.0.2.2" || r.ClockOffset.Abs() > 50*time.Millisecond {
		t.Errorf("synced box: %v; leap %d stratum %d refid %s offset %s", err, r.Leap, r.Stratum, r.ReferenceString(), r.ClockOffset)
	}
	if _, err := ask("127.0.0.2"); err == nil {
		t.Error("a request from outside the listener's subnet was answered")
	}
	if n := s.Answered(); n != 2 {
		t.Errorf("answered %d, want 2", n)
	}
	// The status lists what is bound, in address order; after Close,
	// nothing.
	if got := s.Serving(); len(got) != 2 || got[0].Address.Addr() != netip.MustParseAddr("127.0.0.1") || got[1].Address.Addr() != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("serving %v, want 127.0.0.1 and 127.0.0.2", got)
	}
	s.Close()
	if got := s.Serving(); len(got) != 0 {
		t.Errorf("serving %v after Close", got)
	}
}
