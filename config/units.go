package config

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Size is a byte count. In the config it is a plain number of bytes or a
// whole number with a binary unit: B, KiB, MiB, GiB or TiB (512MiB, 2GiB).
//
// Decimal and single-letter units (GB, G, M, 20g) are rejected rather than
// guessed: QEMU reads "2G" as GiB while disk vendors read "2GB" as 10^9, and
// a box that silently picks one gives guests the wrong memory or disk size.
type Size uint64

// Binary size units.
const (
	KiB Size = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
)

var sizeUnits = []struct {
	name string
	mult Size
}{{"TiB", TiB}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}, {"B", 1}}

// sizePattern is shared with the JSON Schema so that the schema and the
// loader accept exactly the same strings.
const sizePattern = `^[0-9]+(B|KiB|MiB|GiB|TiB)?$`

var (
	sizeRE      = regexp.MustCompile(sizePattern)
	sizeLooseRE = regexp.MustCompile(`^\s*([0-9]*\.?[0-9]*)\s*([A-Za-z]*)\s*$`)
)

// ParseSize parses a size such as 512MiB, 2GiB or 1048576.
func ParseSize(s string) (Size, error) {
	if sizeRE.MatchString(s) {
		num, unit := s, "B"
		for _, u := range sizeUnits {
			if strings.HasSuffix(s, u.name) {
				num, unit = strings.TrimSuffix(s, u.name), u.name
				break
			}
		}
		n, err := strconv.ParseUint(num, 10, 64)
		if err == nil {
			for _, u := range sizeUnits {
				if u.name == unit {
					hi, lo := bits.Mul64(n, uint64(u.mult))
					if hi == 0 {
						return Size(lo), nil
					}
				}
			}
		}
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return 0, fmt.Errorf("invalid size %q: %s", s, sizeHint(s))
}

// sizeHint explains a rejected size in terms of what the user probably
// meant.
func sizeHint(s string) string {
	m := sizeLooseRE.FindStringSubmatch(s)
	if m == nil || m[1] == "" || m[1] == "." {
		return "use a whole number with a unit like 512MiB or 2GiB"
	}
	num, unit := m[1], m[2]
	want := ""
	switch strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(unit, "b"), "B")) {
	case "", "byte", "bytes":
		if unit != "" && unit != "B" {
			want = "B"
		}
	case "k", "ki", "kib":
		want = "KiB"
	case "m", "mi", "mib":
		want = "MiB"
	case "g", "gi", "gib":
		want = "GiB"
	case "t", "ti", "tib":
		want = "TiB"
	default:
		return "use a unit like MiB or GiB"
	}
	if strings.Contains(num, ".") {
		return "use a whole number with a smaller unit (such as 1536MiB for 1.5GiB)"
	}
	if strings.ContainsAny(s, " \t") && want == "" {
		return "write the number and unit without a space, like 2GiB"
	}
	if want == "" {
		return "use a unit like MiB or GiB"
	}
	return fmt.Sprintf("use a unit like MiB or GiB (did you mean %s%s?)", num, want)
}

// String gives the size in the largest unit that divides it exactly, the
// form the loader reads back.
func (s Size) String() string {
	for _, u := range sizeUnits {
		if s != 0 && s%u.mult == 0 {
			return strconv.FormatUint(uint64(s/u.mult), 10) + u.name
		}
	}
	return "0B"
}

// MarshalText makes JSON and YAML output show "2GiB" rather than a byte
// count.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses the text form.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// UnmarshalJSON accepts a byte count as a number as well as a string.
func (s *Size) UnmarshalJSON(b []byte) error {
	var n uint64
	if err := json.Unmarshal(b, &n); err == nil {
		*s = Size(n)
		return nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return fmt.Errorf("invalid size %s: expected a string like 2GiB or a number of bytes", b)
	}
	return s.UnmarshalText([]byte(str))
}

// Duration is a time.Duration written as Go duration text in the config
// (10s, 1m30s, 500ms). Negative durations are rejected; a bare number is
// rejected too because its unit would be a guess.
type Duration time.Duration

// durationPattern is shared with the JSON Schema.
const durationPattern = `^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`

var durationRE = regexp.MustCompile(durationPattern)

// ParseDuration parses a duration such as 10s or 1m30s.
func ParseDuration(s string) (Duration, error) {
	if !durationRE.MatchString(s) {
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return 0, fmt.Errorf("invalid duration %q: add a unit, like %ss", s, s)
		}
		return 0, fmt.Errorf("invalid duration %q: use a duration like 10s, 1m30s or 500ms", s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: too large", s)
	}
	return Duration(d), nil
}

// String gives Go's duration text, which ParseDuration reads back.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText makes JSON and YAML output show "10s" rather than
// nanoseconds.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses the text form.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }
