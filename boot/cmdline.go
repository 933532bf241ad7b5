package boot

import (
	"os"
	"strings"
)

// Cmdline is the kernel command line split into parameters.
type Cmdline struct {
	params []string // "name" or "name=value", quotes removed
}

// ReadCmdline reads /proc/cmdline.
func ReadCmdline() (Cmdline, error) {
	b, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return Cmdline{}, err
	}
	return ParseCmdline(string(b)), nil
}

// ParseCmdline splits s the way the kernel does: on spaces, except inside
// double quotes, which are removed (param="a b" is the value a b). Words
// after a bare "--" are arguments for init, not parameters, and are
// dropped.
func ParseCmdline(s string) Cmdline {
	var (
		c       Cmdline
		word    strings.Builder
		inQuote bool
		inWord  bool
	)
	flush := func() bool {
		if !inWord {
			return true
		}
		w := word.String()
		word.Reset()
		inWord = false
		if w == "--" {
			return false
		}
		c.params = append(c.params, w)
		return true
	}
	for _, r := range s {
		switch {
		case r == '"':
			inQuote = !inQuote
			inWord = true
		case !inQuote && (r == ' ' || r == '\t' || r == '\n'):
			if !flush() {
				return c
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	flush()
	return c
}

// Get returns the value of the last occurrence of name=value (the kernel
// lets a later parameter override an earlier one) and whether name was
// present at all; a bare "name" has the value "".
func (c Cmdline) Get(name string) (string, bool) {
	val, found := "", false
	for _, p := range c.params {
		k, v, _ := strings.Cut(p, "=")
		if k == name {
			val, found = v, true
		}
	}
	return val, found
}

// Params returns the parameters in order.
func (c Cmdline) Params() []string { return append([]string(nil), c.params...) }
