package harness

import (
	"bufio"
	"io"
	"regexp"
	"strings"
	"testing"
)

// fakeShell plays busybox sh on a console: it prints a prompt, echoes each
// typed line as a terminal would, and runs the few commands the test
// uses.
func fakeShell(t *testing.T) *Machine {
	r, w := io.Pipe()
	c := NewConsole(nil)
	m := &Machine{Name: "fake", tb: t, console: c, stdin: w, exited: make(chan struct{})}
	arith := regexp.MustCompile(`\$\(\((\d+)\+0\)\)`)
	go func() {
		io.WriteString(c, "[    1.0] nucbox: rescue shell\n(none):/# ")
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			io.WriteString(c, line+"\r\n") // the echo
			rc := "0"
			// kmsg: the kernel prints on the markers' lines, before
			// the shell's newline.
			kmsg := ""
			if strings.Contains(line, "kmsg") {
				kmsg = "[    6.147663] Initializing XFRM netlink socket"
			}
			for _, part := range strings.Split(line, "; ") {
				part = arith.ReplaceAllString(part, "$1")
				switch {
				case strings.HasPrefix(part, "echo "):
					io.WriteString(c, strings.ReplaceAll(strings.TrimPrefix(part, "echo "), "$?", rc)+kmsg+"\r\n")
				case part == "printf abc":
					io.WriteString(c, "abc")
				case part == "false":
					rc = "1"
				case part == "cat two":
					io.WriteString(c, "line 1\r\nline 2\r\n")
				case part == "kmsg":
					io.WriteString(c, "out\r\n")
				}
			}
			io.WriteString(c, "(none):/# ")
		}
	}()
	t.Cleanup(func() { w.Close() })
	return m
}

func TestShell(t *testing.T) {
	m := fakeShell(t)
	for _, tt := range []struct {
		cmd, out string
		fails    bool
	}{
		{cmd: "cat two", out: "line 1\nline 2\n"},
		{cmd: "printf abc", out: "abc"},
		{cmd: "false", fails: true},
		{cmd: "cat two", out: "line 1\nline 2\n"},
		{cmd: "kmsg", out: "out\n"},
	} {
		out, err := m.Shell(long, tt.cmd)
		if (err != nil) != tt.fails {
			t.Errorf("Shell(%q) error = %v, want failure %v", tt.cmd, err, tt.fails)
		}
		if !tt.fails && out != tt.out {
			t.Errorf("Shell(%q) = %q, want %q", tt.cmd, out, tt.out)
		}
	}
}
