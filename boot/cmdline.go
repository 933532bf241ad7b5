package boot

import (
	"fmt"
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

// DefaultConfigPath is the config baked into the image.
const DefaultConfigPath = "/etc/nucbox/config.yaml"

// configSource is where the config comes from at boot. Fetch returns a
// local path that config.Load can read (and that the errors name) and the
// bytes whose hash identifies the config.
type configSource interface {
	String() string
	Fetch() (path string, data []byte, err error)
}

// fileSource is a config file in the image or on a mounted disk.
type fileSource string

func (f fileSource) String() string { return string(f) }

func (f fileSource) Fetch() (string, []byte, error) {
	b, err := os.ReadFile(string(f))
	return string(f), b, err
}

// configSourceFor picks the source named by nucbox.config=, defaulting to
// the baked-in file. Network sources (http://, https://, by MAC for PXE
// racks) are further cases of the switch.
func configSourceFor(c Cmdline) (configSource, error) {
	spec, ok := c.Get("nucbox.config")
	if !ok || spec == "" {
		return fileSource(DefaultConfigPath), nil
	}
	scheme, rest, hasScheme := strings.Cut(spec, "://")
	switch {
	case !hasScheme:
		return fileSource(spec), nil
	case scheme == "file":
		return fileSource(rest), nil
	default:
		return nil, fmt.Errorf("nucbox.config=%s: unsupported source %q (use a path)", spec, scheme)
	}
}
