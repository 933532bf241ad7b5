package timesync

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/netcfg/timesync/ntptest"
)

// fakeClock records what a Clock did to the system clock.
type fakeClock struct {
	now      time.Time
	adjusted []time.Duration
}

func (f *fakeClock) adjust(off time.Duration) (bool, error) {
	f.adjusted = append(f.adjusted, off)
	f.now = f.now.Add(off)
	return off.Abs() >= StepThreshold, nil
}

func TestSync(t *testing.T) {
	answers := map[string]Sample{
		"near": {Offset: 40 * time.Millisecond, RTT: 5 * time.Millisecond, Stratum: 2},
		"far":  {Offset: 3 * time.Second, RTT: 90 * time.Millisecond, Stratum: 1},
		"jump": {Offset: 36 * 365 * 24 * time.Hour, RTT: 20 * time.Millisecond, Stratum: 1},
	}
	query := func(s string) (Sample, error) {
		if a, ok := answers[s]; ok {
			return a, nil
		}
		return Sample{}, errors.New("i/o timeout")
	}
	for _, tc := range []struct {
		name    string
		servers []string
		wantErr string
		want    time.Duration // the offset applied
		from    string
		stepped bool
	}{
		{name: "none", wantErr: "no NTP server: name some"},
		{name: "all silent", servers: []string{"a", "b"}, wantErr: "no NTP server answered: a: i/o timeout; b: i/o timeout"},
		{name: "shortest round trip wins", servers: []string{"far", "near"}, want: 40 * time.Millisecond, from: "near"},
		{name: "one silent", servers: []string{"a", "far"}, want: 3 * time.Second, from: "far", stepped: true},
		{name: "a clock from 1990", servers: []string{"jump"}, want: answers["jump"].Offset, from: "jump", stepped: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeClock{now: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)}
			c := New(Options{Query: query, Adjust: f.adjust, Now: func() time.Time { return f.now }})
			c.SetServers(tc.servers, "config")
			err := c.Sync(context.Background())
			st := c.Status()
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if st.Synced || st.Error != err.Error() || len(f.adjusted) != 0 {
					t.Errorf("after a failed sync: %+v, adjusted %v", st, f.adjusted)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(f.adjusted) != 1 || f.adjusted[0] != tc.want {
				t.Errorf("adjusted %v, want [%s]", f.adjusted, tc.want)
			}
			if !st.Synced || st.Server != tc.from || st.Offset != tc.want || st.Stepped != tc.stepped || st.Source != "config" || !st.At.Equal(f.now) {
				t.Errorf("status %+v, want synced from %s, offset %s, stepped %v at %s", st, tc.from, tc.want, tc.stepped, f.now)
			}
		})
	}
}

func TestSane(t *testing.T) {
	if Sane(time.Unix(0, 0)) || Sane(time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Error("a clock before 2026 passes for set")
	}
	if !Sane(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)) {
		t.Error("today's date does not pass for set")
	}
}

// TestQueryServer asks a real NTP server on the loopback whose clock is
// an hour ahead, and one that does not answer.
func TestQueryServer(t *testing.T) {
	srv, err := ntptest.Listen("127.0.0.1:0", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	s, err := Query(srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if d := s.Offset - time.Hour; d.Abs() > 100*time.Millisecond || s.Stratum != 1 || s.Addr.String() != "127.0.0.1" {
		t.Errorf("sample %+v, want an offset of 1h (±100ms) at stratum 1 from 127.0.0.1", s)
	}
	srv.SetAnswering(false)
	if s, err := Query(srv.Addr().String()); err == nil {
		t.Errorf("a server that drops requests gave %+v", s)
	}
	if srv.Served() != 1 || srv.Dropped() != 1 {
		t.Errorf("served %d, dropped %d; want 1 and 1", srv.Served(), srv.Dropped())
	}
}

// TestRunRetriesAndKick: Run retries a failed sync and syncs at once
// with new servers.
func TestRunKick(t *testing.T) {
	f := &fakeClock{now: time.Now()}
	asked := make(chan string, 10)
	c := New(Options{
		Query: func(s string) (Sample, error) {
			asked <- s
			if s == "good" {
				return Sample{Offset: time.Millisecond, RTT: time.Millisecond, Stratum: 2}, nil
			}
			return Sample{}, errors.New("timeout")
		},
		Adjust: f.adjust, Now: func() time.Time { return f.now }, Interval: time.Hour,
	})
	c.SetServers([]string{"bad"}, "dhcp")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if s := <-asked; s != "bad" {
		t.Fatalf("asked %q first", s)
	}
	c.WaitFirst(ctx)
	if st := c.Status(); st.Synced || !strings.Contains(st.Error, "bad: timeout") {
		t.Errorf("after the first attempt: %+v", st)
	}
	c.SetServers([]string{"good"}, "config")
	select {
	case s := <-asked:
		if s != "good" {
			t.Fatalf("asked %q after new servers", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("new servers were not asked within 5 s (the retry is 10 s away)")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !c.Status().Synced {
		if time.Now().After(deadline) {
			t.Fatalf("not synced: %+v", c.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFormatOffset(t *testing.T) {
	for d, want := range map[time.Duration]string{
		4*time.Millisecond + 400*time.Microsecond: "4ms",
		-40 * time.Millisecond:                    "-40ms",
		3*time.Second + 140*time.Millisecond:      "3.1s",
		323743*time.Hour + 5*time.Minute:          "13489 days",
	} {
		if got := FormatOffset(d); got != want {
			t.Errorf("FormatOffset(%s) = %q, want %q", d, got, want)
		}
	}
}
