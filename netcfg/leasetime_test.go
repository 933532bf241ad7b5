package netcfg

import (
	"testing"
	"time"
)

func TestComputeLeaseTimes(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := time.Second
	cases := []struct {
		name              string
		lease, t1, t2     time.Duration
		wT1, wT2, wExpiry time.Duration // offsets from t0; all 0 = infinite
	}{
		{"defaults", 3600 * s, 0, 0, 1800 * s, 3150 * s, 3600 * s},
		{"server values", 120 * s, 2 * s, 4 * s, 2 * s, 4 * s, 120 * s},
		{"T2 beyond lease", 100 * s, 10 * s, 200 * s, 10 * s, 87500 * time.Millisecond, 100 * s},
		{"T1 after T2", 100 * s, 90 * s, 80 * s, 50 * s, 80 * s, 100 * s},
		{"T1 equal T2", 100 * s, 80 * s, 80 * s, 50 * s, 80 * s, 100 * s},
		{"short T2 below half", 100 * s, 0, 30 * s, 15 * s, 30 * s, 100 * s},
		{"infinite", infiniteLease, 0, 0, 0, 0, 0},
		{"no lease time", 0, 0, 0, 0, 0, 0},
	}
	at := func(d time.Duration) time.Time {
		if d == 0 {
			return time.Time{}
		}
		return t0.Add(d)
	}
	for _, c := range cases {
		got := computeLeaseTimes(t0, c.lease, c.t1, c.t2)
		want := leaseTimes{T1: at(c.wT1), T2: at(c.wT2), Expiry: at(c.wExpiry)}
		if got != want {
			t.Errorf("%s: got T1 %v T2 %v expiry %v, want %v %v %v", c.name,
				got.T1.Sub(t0), got.T2.Sub(t0), got.Expiry.Sub(t0), c.wT1, c.wT2, c.wExpiry)
		}
		if !got.T1.IsZero() && !(got.T1.Before(got.T2) && got.T2.Before(got.Expiry)) {
			t.Errorf("%s: not T1 < T2 < expiry", c.name)
		}
	}
}

func TestRetryAt(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct{ remaining, want time.Duration }{
		{1000 * time.Second, 500 * time.Second}, // half the remaining time
		{10 * time.Second, 5 * time.Second},
		{1500 * time.Millisecond, time.Second},           // floor
		{800 * time.Millisecond, 800 * time.Millisecond}, // never after the deadline
		{-time.Second, -time.Second},
	}
	for _, c := range cases {
		if got := retryAt(now, now.Add(c.remaining)).Sub(now); got != c.want {
			t.Errorf("remaining %v: retry after %v, want %v", c.remaining, got, c.want)
		}
	}
}
