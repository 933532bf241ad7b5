package harness

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// long is a deadline that a passing test never reaches; it only bounds a
// broken one.
const long = 10 * time.Second

func TestExpectSeesOutputFromBeforeTheCall(t *testing.T) {
	c := NewConsole(nil)
	io.WriteString(c, "booting\nnucbox: ready {\"hostname\":\"nuc1\"}\nmore\n")
	m, err := c.Expect(long, `ready (\{.*\})`)
	if err != nil {
		t.Fatal(err)
	}
	if m[1] != `{"hostname":"nuc1"}` {
		t.Errorf("submatch = %q", m[1])
	}
}

func TestExpectCursorMovesPastEachMatch(t *testing.T) {
	c := NewConsole(nil)
	io.WriteString(c, "step 1\nstep 2\nstep 3\n")
	for _, want := range []string{"1", "2", "3"} {
		m, err := c.Expect(long, `step (\d)`)
		if err != nil {
			t.Fatal(err)
		}
		if m[1] != want {
			t.Fatalf("got step %s, want %s", m[1], want)
		}
	}
	// Everything was consumed: an old line must not match again.
	if _, err := c.Expect(20*time.Millisecond, `step`); !errors.Is(err, ErrTimeout) {
		t.Fatalf("rematched consumed output: %v", err)
	}
	// The cursor sits after the match, not after the line: the rest of
	// a matched line is still there for the next Expect.
	io.WriteString(c, "a=1 b=2\n")
	c.Expect(long, `a=\d`)
	if m, err := c.Expect(long, `b=(\d)`); err != nil || m[1] != "2" {
		t.Fatalf("rest of line: %v %v", m, err)
	}
}

func TestExpectWaitsForLaterOutput(t *testing.T) {
	c := NewConsole(nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, chunk := range []string{"noise\npart", "ial li", "ne\r\n", "done\n"} {
			io.WriteString(c, chunk)
		}
	}()
	if _, err := c.Expect(long, `^partial line$`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expect(long, `^done$`); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

func TestExpectIgnoresPartialLinesButPromptDoesNot(t *testing.T) {
	c := NewConsole(nil)
	// Half of a ready line must not satisfy a pattern that the whole
	// line would match differently.
	io.WriteString(c, `nucbox: ready {"a":{"b":1}`)
	if _, err := c.Expect(20*time.Millisecond, `ready (\{.*\})`); !errors.Is(err, ErrTimeout) {
		t.Fatalf("matched a partial line: %v", err)
	}
	io.WriteString(c, ",\"c\":2}\n/ # ")
	m, err := c.Expect(long, `ready (\{.*\})`)
	if err != nil || m[1] != `{"a":{"b":1},"c":2}` {
		t.Fatalf("whole line: %q %v", m, err)
	}
	if _, err := c.Expect(20*time.Millisecond, ShellPromptPattern); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Expect matched the prompt's partial line: %v", err)
	}
	if _, err := c.ExpectPrompt(long, ShellPromptPattern); err != nil {
		t.Fatal(err)
	}
	// The typed command continues the prompt's line.
	io.WriteString(c, "echo hi\nhi\n")
	if _, err := c.Expect(long, `^hi$`); err != nil {
		t.Fatal(err)
	}
}

func TestExpectTimeoutQuotesRecentOutput(t *testing.T) {
	c := NewConsole(nil)
	io.WriteString(c, "first\nsecond\n")
	start := time.Now()
	_, err := c.Expect(50*time.Millisecond, `third`)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want timeout", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("timeout took %v", time.Since(start))
	}
	if !strings.Contains(err.Error(), "second") {
		t.Errorf("error does not quote the output: %v", err)
	}
}

func TestExpectEndsWhenConsoleCloses(t *testing.T) {
	c := NewConsole(nil)
	io.WriteString(c, "Kernel panic - not syncing\nlast words")
	go c.Close(errors.New("qemu exited (status 0)"))
	_, err := c.Expect(long, `nucbox: ready`)
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
	if !strings.Contains(err.Error(), "qemu exited") || !strings.Contains(err.Error(), "Kernel panic") {
		t.Errorf("error lacks cause or output: %v", err)
	}
	// After the end an unterminated last line is complete.
	if _, err := c.Expect(long, `^last words$`); err != nil {
		t.Fatalf("last line after close: %v", err)
	}
}

func TestConsoleOnLine(t *testing.T) {
	var got []string
	c := NewConsole(func(l string) { got = append(got, l) })
	io.WriteString(c, "a\r\nb")
	io.WriteString(c, "c\nd")
	c.Close(nil)
	if want := []string{"a", "bc", "d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
}

func TestExpectBadPattern(t *testing.T) {
	c := NewConsole(nil)
	if _, err := c.Expect(long, `(`); err == nil {
		t.Fatal("no error for a bad regexp")
	}
}

func TestPrintable(t *testing.T) {
	in := "\x1b[=3h\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS / # \x1b[6necho\x07 hi"
	if got, want := printable(in), "SeaBIOS / # echo hi"; got != want {
		t.Errorf("printable = %q, want %q", got, want)
	}
}
