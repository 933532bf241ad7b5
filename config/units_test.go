package config

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
		err  string
	}{
		{in: "0", want: 0},
		{in: "4096", want: 4096},
		{in: "512B", want: 512},
		{in: "4KiB", want: 4 * KiB},
		{in: "512MiB", want: 512 * MiB},
		{in: "2GiB", want: 2 * GiB},
		{in: "1TiB", want: TiB},
		{in: "16777215TiB", want: 16777215 * TiB},
		{in: "16777216TiB", err: `invalid size "16777216TiB": too large`},
		{in: "99999999999999999999", err: "too large"},
		{in: "2GB", err: `invalid size "2GB": use a unit like MiB or GiB (did you mean 2GiB?)`},
		{in: "20G", err: "did you mean 20GiB?"},
		{in: "256m", err: "did you mean 256MiB?"},
		{in: "1gib", err: "did you mean 1GiB?"},
		{in: "1.5GiB", err: "use a whole number with a smaller unit"},
		{in: "2 GiB", err: "did you mean 2GiB?"},
		{in: "10 bytes", err: "did you mean 10B?"},
		{in: "-1GiB", err: "use a whole number with a unit"},
		{in: "GiB", err: "use a whole number with a unit"},
		{in: "", err: "use a whole number with a unit"},
		{in: "3PiB", err: "use a unit like MiB or GiB"},
	} {
		got, err := ParseSize(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSize(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestSizeString(t *testing.T) {
	for _, tc := range []struct {
		in   Size
		want string
	}{
		{0, "0B"}, {1, "1B"}, {1000, "1000B"}, {KiB, "1KiB"}, {1536 * MiB, "1536MiB"},
		{2 * GiB, "2GiB"}, {TiB, "1TiB"}, {1<<64 - 1, "18446744073709551615B"},
	} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("Size(%d).String() = %q, want %q", uint64(tc.in), got, tc.want)
		}
		back, err := ParseSize(tc.in.String())
		if err != nil || back != tc.in {
			t.Errorf("ParseSize(%q) = %v, %v; want %d", tc.in.String(), back, err, uint64(tc.in))
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{in: "10s", want: 10 * time.Second},
		{in: "1m30s", want: 90 * time.Second},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "1.5h", want: 90 * time.Minute},
		{in: "0", want: 0},
		{in: "10", err: `invalid duration "10": add a unit, like 10s`},
		{in: "-5s", err: "use a duration like 10s"},
		{in: "+5s", err: "use a duration like 10s"},
		{in: "5 s", err: "use a duration like 10s"},
		{in: "ten seconds", err: "use a duration like 10s"},
		{in: "9999999999h", err: "too large"},
	} {
		got, err := ParseDuration(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseDuration(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got.Std() != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// Sizes, durations and the IPv4 union appear in JSON as a user writes
// them, and read back.
func TestJSONForms(t *testing.T) {
	type doc struct {
		Mem  Size     `json:"mem"`
		Wait Duration `json:"wait"`
		A    IPv4     `json:"a"`
		B    IPv4     `json:"b"`
		C    IPv4     `json:"c,omitzero"`
	}
	in := doc{Mem: 2 * GiB, Wait: Duration(90 * time.Second), A: IPv4{DHCP: true}, B: IPv4{Address: "10.0.0.2/24", Gateway: "10.0.0.1"}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"mem":"2GiB","wait":"1m30s","a":"dhcp","b":{"address":"10.0.0.2/24","gateway":"10.0.0.1"}}`
	if string(b) != want {
		t.Errorf("json = %s\nwant   %s", b, want)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("round trip = %+v, %v; want %+v", out, err, in)
	}
	if err := json.Unmarshal([]byte(`{"mem":1024}`), &out); err != nil || out.Mem != KiB {
		t.Errorf("size from a JSON number = %v, %v", out.Mem, err)
	}
	for _, bad := range []string{`{"a":"static"}`, `{"a":{"address":"10.0.0.1/24","gw":"x"}}`, `{"mem":"2GB"}`, `{"wait":"10"}`} {
		if err := json.Unmarshal([]byte(bad), &out); err == nil {
			t.Errorf("json.Unmarshal(%s) succeeded", bad)
		}
	}
}
