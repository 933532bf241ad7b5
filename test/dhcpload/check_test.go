package dhcpload

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	first, last := netip.MustParseAddr("10.0.0.10"), netip.MustParseAddr("10.0.0.20")
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	for _, c := range []struct {
		name string
		r    Result
		want []string // substrings of the error; none for a valid run
	}{
		{name: "valid", r: Result{Leases: map[string]netip.Addr{"m1": a("10.0.0.10"), "m2": a("10.0.0.20")}}},
		{name: "a client without a lease", r: Result{Leases: map[string]netip.Addr{"m1": a("10.0.0.10")},
			Failed: map[string]error{"m2": errors.New("no offer: timed out")}}, want: []string{"client m2 got no lease: no offer"}},
		{name: "one address for two clients", r: Result{Leases: map[string]netip.Addr{"m1": a("10.0.0.11"), "m2": a("10.0.0.11")}},
			want: []string{"10.0.0.11 given to 2 clients: [m1 m2]"}},
		{name: "outside the range", r: Result{Leases: map[string]netip.Addr{"m1": a("10.0.0.21"), "m2": a("10.0.0.12")}},
			want: []string{"client m1 got 10.0.0.21, outside the range"}},
		{name: "clients missing from the result", r: Result{Leases: map[string]netip.Addr{"m1": a("10.0.0.12")}},
			want: []string{"1 clients accounted for, want 2"}},
	} {
		err := c.r.Check(2, first, last)
		if len(c.want) == 0 && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if len(c.want) > 0 && err == nil {
			t.Errorf("%s: no error, want %q", c.name, c.want)
		}
		for _, w := range c.want {
			if err != nil && !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", c.name, err, w)
			}
		}
	}
}

func TestRateAndMAC(t *testing.T) {
	r := Result{Leases: map[string]netip.Addr{"a": {}, "b": {}}, Elapsed: 500 * time.Millisecond}
	if r.Rate() != 4 {
		t.Errorf("rate %v, want 4 leases/s", r.Rate())
	}
	if (Result{}).Rate() != 0 {
		t.Error("a run that took no time has a rate")
	}
	var o Options
	if got := o.MAC(0x010203).String(); got != "02:d1:00:01:02:03" {
		t.Errorf("MAC %s", got)
	}
	if o.MAC(1).String() == o.MAC(2).String() {
		t.Error("two clients share a MAC")
	}
}
