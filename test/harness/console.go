package harness

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"
)

// ErrTimeout is wrapped by Expect errors when the deadline passed without a
// match, so that callers can tell a slow guest from one that died.
var ErrTimeout = errors.New("timeout")

// ErrClosed is wrapped by Expect errors when the console ended (QEMU exited)
// before the pattern appeared: waiting longer cannot help.
var ErrClosed = errors.New("console closed")

// tailLines is how much recent output an Expect error quotes, enough to see
// what the guest was doing without repeating the whole boot log.
const tailLines = 15

// Console is the serial output of one machine, kept whole in memory so that
// Expect can look back at output that arrived before it was called. The
// guest's console is small (a few hundred KiB even for a chatty boot), so
// keeping all of it is cheaper than reasoning about what can be dropped.
//
// A Console has one cursor: each successful Expect moves it to the end of
// the match, and the next Expect starts there. Output that arrived between
// two Expect calls is therefore never missed, and output already matched is
// never matched twice.
type Console struct {
	mu     sync.Mutex
	buf    []byte
	cursor int           // byte offset where the next Expect starts
	wake   chan struct{} // closed and replaced whenever buf grows or ends
	done   bool
	err    error // why the stream ended, when it was not a plain EOF
	onLine func(line string)
	line   []byte // partial line being assembled for onLine
}

// NewConsole returns a console fed by Write and ended by Close. onLine, when
// not nil, is called with every complete line (without the line ending) in
// the order the lines arrived; it must not call back into the console.
func NewConsole(onLine func(line string)) *Console {
	return &Console{wake: make(chan struct{}), onLine: onLine}
}

// Write appends guest output. It never fails, so a Console can sit behind
// an io.MultiWriter or io.Copy without stopping the copy.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.buf = append(c.buf, p...)
	var lines []string
	if c.onLine != nil {
		c.line = append(c.line, p...)
		for {
			i := bytes.IndexByte(c.line, '\n')
			if i < 0 {
				break
			}
			lines = append(lines, string(trimCR(c.line[:i])))
			c.line = c.line[i+1:]
		}
		// Keep the partial line in its own allocation so that the consumed
		// prefix of a long-lived slice can be collected.
		c.line = append([]byte(nil), c.line...)
	}
	c.signalLocked()
	c.mu.Unlock()
	for _, l := range lines {
		c.onLine(l)
	}
	return len(p), nil
}

// Close marks the end of the output. err explains why, when it is not the
// guest simply going away; Expect reports it.
func (c *Console) Close(err error) {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return
	}
	c.done = true
	c.err = err
	var last string
	flush := c.onLine != nil && len(c.line) > 0
	if flush {
		last = string(trimCR(c.line))
		c.line = nil
	}
	c.signalLocked()
	c.mu.Unlock()
	if flush {
		c.onLine(last)
	}
}

// closeErr is the reason given to Close.
func (c *Console) closeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// ReadFrom copies r into the console until EOF or error and then closes it.
// The console is hidden behind a plain Writer: io.Copy would otherwise
// call this method again.
func (c *Console) ReadFrom(r io.Reader) (int64, error) {
	n, err := io.Copy(struct{ io.Writer }{c}, r)
	c.Close(err)
	return n, err
}

func (c *Console) signalLocked() {
	close(c.wake)
	c.wake = make(chan struct{})
}

// String returns everything the console received so far.
func (c *Console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.buf)
}

// Expect waits until a complete line after the cursor matches re, moves the
// cursor to the end of the match, and returns the match and its submatches.
// Only complete lines count, so that a pattern such as `ready (\{.*\})` is
// never satisfied by half a line that is still arriving. Use ExpectPrompt for
// text that is not followed by a newline.
func (c *Console) Expect(timeout time.Duration, re string) ([]string, error) {
	return c.expect(timeout, re, false)
}

// ExpectPrompt is Expect that also looks at the trailing partial line. A
// shell prompt is never followed by a newline, and input typed before the
// shell sets up its terminal is discarded, so interactive tests wait for
// the prompt with this before they Send.
func (c *Console) ExpectPrompt(timeout time.Duration, re string) ([]string, error) {
	return c.expect(timeout, re, true)
}

func (c *Console) expect(timeout time.Duration, pattern string, partial bool) ([]string, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("expect: %w", err)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()

	c.mu.Lock()
	// scan is where the search resumes: complete lines before it were
	// already tried by this call and cannot start matching later.
	scan := c.cursor
	for {
		if m, end, next := findLine(re, c.buf, c.cursor, scan, partial || c.done); m != nil {
			c.cursor = end
			c.mu.Unlock()
			return m, nil
		} else {
			scan = next
		}
		if c.done {
			tail := tailOf(c.buf[c.cursor:])
			cause := c.err
			c.mu.Unlock()
			if cause != nil {
				return nil, fmt.Errorf("expect %q: %w (%v); output since the last match ends with:\n%s", pattern, ErrClosed, cause, tail)
			}
			return nil, fmt.Errorf("expect %q: %w before a match; output since the last match ends with:\n%s", pattern, ErrClosed, tail)
		}
		wake := c.wake
		c.mu.Unlock()
		select {
		case <-wake:
			c.mu.Lock()
		case <-deadline.C:
			c.mu.Lock()
			// One last look: output may have arrived with the deadline.
			if m, end, _ := findLine(re, c.buf, c.cursor, scan, partial); m != nil {
				c.cursor = end
				c.mu.Unlock()
				return m, nil
			}
			tail := tailOf(c.buf[c.cursor:])
			c.mu.Unlock()
			return nil, fmt.Errorf("expect %q: %w after %v; output since the last match ends with:\n%s", pattern, ErrTimeout, timeout, tail)
		}
	}
}

// findLine searches buf line by line from scan (the first line may start
// mid-line at cursor). It returns the submatches and the offset just after
// the match, or nil and the offset of the first line not yet complete, which
// is where the next search must resume.
func findLine(re *regexp.Regexp, buf []byte, cursor, scan int, partial bool) ([]string, int, int) {
	start := max(scan, cursor)
	for start < len(buf) {
		nl := bytes.IndexByte(buf[start:], '\n')
		end := len(buf)
		complete := nl >= 0
		if complete {
			end = start + nl
		} else if !partial {
			return nil, 0, start
		}
		line := trimCR(buf[start:end])
		if loc := re.FindSubmatchIndex(line); loc != nil {
			m := make([]string, len(loc)/2)
			for i := range m {
				if loc[2*i] >= 0 {
					m[i] = string(line[loc[2*i]:loc[2*i+1]])
				}
			}
			return m, start + loc[1], 0
		}
		if !complete {
			return nil, 0, start
		}
		start = end + 1
	}
	return nil, 0, start
}

func trimCR(b []byte) []byte {
	return bytes.TrimRight(b, "\r")
}

func tailOf(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	for i, l := range lines {
		lines[i] = "\t" + strings.TrimRight(l, "\r")
	}
	return strings.Join(lines, "\n")
}
