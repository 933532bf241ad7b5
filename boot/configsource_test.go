package boot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/netcfg/timesync"
)

func TestConfigSources(t *testing.T) {
	for _, tc := range []struct {
		cmdline  string
		lastGood string
		want     []string
		err      string
	}{
		{"console=ttyS0", "", []string{DefaultConfigPath}, ""},
		{"nucbox.config=", "", []string{DefaultConfigPath}, ""},
		{"console=ttyS0", "/var/lib/nucbox/config/last-good.yaml", []string{"/var/lib/nucbox/config/last-good.yaml", DefaultConfigPath}, ""},
		// A named config falls back to the last good one, never to the
		// baked default.
		{"nucbox.config=/data/box.yaml", "", []string{"/data/box.yaml"}, ""},
		{"nucbox.config=file:///data/box.yaml", "/lg", []string{"/data/box.yaml", "/lg"}, ""},
		// Plain http only with the config's content pinned.
		{"nucbox.config=http://10.0.2.2/configs/${mac}.yaml nucbox.config.sha256=" + strings.Repeat("ab", 32), "", []string{"http://10.0.2.2/configs/${mac}.yaml"}, ""},
		{"nucbox.config=http://10.0.2.2/configs/${mac}.yaml", "", nil, "add nucbox.config.sha256="},
		{"nucbox.config=https://cfg/x nucbox.config.sha256=abc", "", nil, "64 hex digits"},
		{"nucbox.config=/data/box.yaml nucbox.config.sha256=" + strings.Repeat("AB", 32), "/lg", []string{"/data/box.yaml", "/lg"}, ""},
		{"nucbox.config=https://cfg/${hostname}/${uuid}", "/lg", []string{"https://cfg/${hostname}/${uuid}", "/lg"}, ""},
		{"nucbox.config=ftp://x/y", "", nil, `unsupported source "ftp"`},
		{"nucbox.config=http://x/${serial}", "", nil, "unknown variable ${serial}"},
		{"nucbox.config=http://x/${mac", "", nil, "unterminated"},
		{"nucbox.config=http://x/ nucbox.config.timeout=soon", "", nil, "nucbox.config.timeout=soon"},
	} {
		srcs, err := configSources(ParseCmdline(tc.cmdline), tc.lastGood)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want one containing %q", tc.cmdline, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.cmdline, err)
			continue
		}
		var got []string
		for _, s := range srcs {
			got = append(got, s.String())
		}
		if strings.Join(got, " | ") != strings.Join(tc.want, " | ") {
			t.Errorf("%q: sources %q, want %q", tc.cmdline, got, tc.want)
		}
	}
}

func TestExpandTemplate(t *testing.T) {
	vars := map[string]string{"mac": "52:54:00:12:34:56", "uuid": "0a1b", "hostname": "rack 1/../x"}
	for _, tc := range []struct{ in, want, err string }{
		{"http://s/configs/${mac}.yaml", "http://s/configs/52:54:00:12:34:56.yaml", ""},
		{"http://s/${uuid}/${mac}", "http://s/0a1b/52:54:00:12:34:56", ""},
		// A DHCP-assigned name cannot climb out of the path.
		{"http://s/${hostname}.yaml", "http://s/rack%201%2F..%2Fx.yaml", ""},
		{"http://s/plain.yaml", "http://s/plain.yaml", ""},
		{"http://s/${MAC}", "", "unknown variable ${MAC}"},
		{"http://s/${}", "", "unknown variable ${}"},
	} {
		got, err := expandTemplate(tc.in, func(n string) string { return vars[n] })
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: err = %v, want %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%q = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

type fakeLease struct {
	vars   map[string]string
	closed *bool
	ntp    []string
}

func (f fakeLease) Vars() map[string]string { return f.vars }
func (f fakeLease) NTP() []string           { return f.ntp }
func (f fakeLease) Close() error            { *f.closed = true; return nil }

// TestURLSourceSetsClock: before fetching, the clock is synced with the
// servers of nucbox.ntp=, else the lease's; retried at each attempt until
// one worked, then left to the box; with neither and a clock that can be
// right, nothing is asked.
func TestURLSourceSetsClock(t *testing.T) {
	for _, tc := range []struct {
		name           string
		cmdline, lease []string
		answerFrom     int // the attempt from which the server answers
		wantAsked      []string
		wantSource     string
		wantSynced     bool
	}{
		{name: "command line first", cmdline: []string{"10.0.2.2:1123"}, lease: []string{"10.0.0.1"}, answerFrom: 1,
			wantAsked: []string{"10.0.2.2:1123"}, wantSource: "command line", wantSynced: true},
		{name: "the lease's", lease: []string{"10.0.0.1"}, answerFrom: 2,
			wantAsked: []string{"10.0.0.1", "10.0.0.1"}, wantSource: "dhcp", wantSynced: true},
		{name: "none, clock sane", answerFrom: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked []string
			attempt := 1 // the fetch attempt; its sync comes first
			c := timesync.New(timesync.Options{
				Query: func(s string) (timesync.Sample, error) {
					asked = append(asked, s)
					if attempt < tc.answerFrom {
						return timesync.Sample{}, errors.New("timeout")
					}
					return timesync.Sample{Offset: time.Millisecond, RTT: time.Millisecond, Stratum: 2}, nil
				},
				Adjust: func(time.Duration) (bool, error) { return false, nil },
			})
			closed := false
			u := &urlSource{template: "https://10.0.2.2/c.yaml", timeout: time.Minute, clock: c, ntp: tc.cmdline,
				lease: func(context.Context, string) (bootLease, error) {
					return fakeLease{closed: &closed, ntp: tc.lease}, nil
				},
				get: func(ctx context.Context, url string) ([]byte, error) {
					defer func() { attempt++ }()
					if attempt < 2 {
						return nil, errors.New("x509: certificate has expired or is not yet valid")
					}
					return []byte("hostname: a\n"), nil
				},
			}
			if _, _, err := u.Fetch(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(asked, tc.wantAsked) {
				t.Errorf("asked %q, want %q", asked, tc.wantAsked)
			}
			if st := c.Status(); st.Source != tc.wantSource || st.Synced != tc.wantSynced {
				t.Errorf("clock %+v, want source %q, synced %v", st, tc.wantSource, tc.wantSynced)
			}
		})
	}
}

func TestURLSourceRetries(t *testing.T) {
	closed := false
	var urls []string
	u := &urlSource{
		template: "http://10.0.2.2/configs/${mac}.yaml", timeout: time.Minute, bootif: "01-52-54-00-aa-bb-cc",
		lease: func(_ context.Context, bootif string) (bootLease, error) {
			if bootif != "01-52-54-00-aa-bb-cc" {
				t.Errorf("lease for BOOTIF %q", bootif)
			}
			return fakeLease{vars: map[string]string{"mac": "52:54:00:aa:bb:cc"}, closed: &closed}, nil
		},
		get: func(_ context.Context, url string) ([]byte, error) {
			urls = append(urls, url)
			if len(urls) < 2 {
				return nil, errors.New("connection refused")
			}
			return []byte("hostname: a\n"), nil
		},
	}
	name, data, err := u.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := "http://10.0.2.2/configs/52:54:00:aa:bb:cc.yaml"; name != want || len(urls) != 2 || urls[1] != want {
		t.Errorf("fetched %q after %q, want %q on the second attempt", name, urls, want)
	}
	if string(data) != "hostname: a\n" || !closed {
		t.Errorf("data %q, lease closed %v", data, closed)
	}
}

func TestURLSourceGivesUp(t *testing.T) {
	closed := false
	attempts := 0
	u := &urlSource{
		template: "http://10.0.2.2/x", timeout: 1500 * time.Millisecond,
		lease: func(context.Context, string) (bootLease, error) { return fakeLease{closed: &closed}, nil },
		get: func(context.Context, string) ([]byte, error) {
			attempts++
			return nil, fmt.Errorf("HTTP 404 Not Found")
		},
	}
	start := time.Now()
	_, _, err := u.Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "gave up after") || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err = %v, want a give-up naming the last failure", err)
	}
	if el := time.Since(start); el > 5*time.Second || attempts < 2 || !closed {
		t.Errorf("gave up after %s and %d attempts, lease closed %v; want about 1.5s, ≥ 2 attempts, closed", el, attempts, closed)
	}

	// No network at all is an error at once, not a hang.
	u.lease = func(context.Context, string) (bootLease, error) { return nil, errors.New("no uplink with carrier") }
	if _, _, err := u.Fetch(context.Background()); err == nil || !strings.Contains(err.Error(), "no uplink") {
		t.Errorf("err = %v, want the network error", err)
	}
}

func TestFileSourceMissing(t *testing.T) {
	_, _, err := fileSource(filepath.Join(t.TempDir(), "none.yaml")).Fetch(context.Background())
	if !errors.Is(err, errNoConfig) {
		t.Errorf("err = %v, want errNoConfig", err)
	}
	p := filepath.Join(t.TempDir(), "box.yaml")
	os.WriteFile(p, []byte("hostname: x\n"), 0o600)
	if name, data, err := fileSource(p).Fetch(context.Background()); err != nil || name != p || string(data) != "hostname: x\n" {
		t.Errorf("Fetch = %q, %q, %v", name, data, err)
	}
}

func TestParseBootIf(t *testing.T) {
	for in, want := range map[string]string{
		"01-52-54-00-12-34-56": "52:54:00:12:34:56",
		"01-52-54-00-AB-CD-EF": "52:54:00:ab:cd:ef",
		"":                     "",
		"01-52-54":             "",
		"zz":                   "",
	} {
		got := ""
		if m := parseBootIf(in); m != nil {
			got = m.String()
		}
		if got != want {
			t.Errorf("parseBootIf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRotateLogs(t *testing.T) {
	dir := t.TempDir()
	for i, n := range []string{"boot.log", "boot.log.1", "boot.log.2"} {
		os.WriteFile(filepath.Join(dir, n), []byte{byte('0' + i)}, 0o600)
	}
	rotateLogs(dir, "boot.log", 3)
	for n, want := range map[string]string{"boot.log.1": "0", "boot.log.2": "1", "boot.log.3": "2"} {
		if b, err := os.ReadFile(filepath.Join(dir, n)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", n, b, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "boot.log")); err == nil {
		t.Error("boot.log still there after rotation")
	}
}
