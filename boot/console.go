package boot

import (
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Log holds PID 1's recent log lines for the API.
var Log = NewLogRing(4096)

// console serialises PID 1's writes to the console so that lines from
// different goroutines never interleave mid-line.
var console = struct {
	mu  sync.Mutex
	out io.Writer
}{out: os.Stdout}

// Logf prints one timestamped "nucbox: " line per line of the formatted
// text on the console and keeps it in Log.
func Logf(format string, args ...any) {
	logText(fmt.Sprintf(format, args...))
}

func logText(text string) {
	text = strings.TrimRight(text, "\n")
	console.mu.Lock()
	defer console.mu.Unlock()
	for _, line := range strings.Split(text, "\n") {
		l := Log.Add(sinceBoot(), "nucbox: "+line)
		// A console write that fails has nowhere to be reported; the
		// line is still in the ring.
		io.WriteString(console.out, l.String()+"\n")
	}
}

// consoleOnly prints a line on the console without keeping it in Log:
// the log is served by the API and may be read by more people than the
// console (a newly made API token).
func consoleOnly(text string) {
	console.mu.Lock()
	defer console.mu.Unlock()
	io.WriteString(console.out, stamp(sinceBoot())+" nucbox: "+text+"\n")
}

// Logger returns a standard logger whose lines go to the console and Log
// as "nucbox: component: ...". Packages that PID 1 drives take one of
// these instead of importing boot.
func Logger(component string) *log.Logger {
	prefix := ""
	if component != "" {
		prefix = component + ": "
	}
	return log.New(logWriter{}, prefix, 0)
}

// logWriter adapts Logf to io.Writer for the log package.
type logWriter struct{}

func (logWriter) Write(p []byte) (int, error) {
	logText(string(p))
	return len(p), nil
}

// ensureStdio points any of fds 0, 1 and 2 that the kernel could not open
// (an image without /dev/console) at the console now that devtmpfs
// provides one, so that children and Go's own crash output have somewhere
// to go.
func ensureStdio() {
	var c *os.File
	for fd := 0; fd <= 2; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			continue
		}
		if c == nil {
			f, err := os.OpenFile("/dev/console", os.O_RDWR|unix.O_NOCTTY, 0)
			if err != nil {
				return
			}
			c = f
		}
		unix.Dup3(int(c.Fd()), fd, 0)
	}
	if c != nil {
		c.Close()
	}
}

// consoleTTY returns the device behind /dev/console. /dev/console itself
// cannot become a controlling terminal, so a shell on it would have no job
// control and Ctrl-C would not reach it; the real device (ttyS0) can.
// The last name in the active list is the one /dev/console writes to.
func consoleTTY() string {
	if b, err := os.ReadFile("/proc/consoles"); err == nil {
		if name := consoleDevice(string(b)); name != "" {
			if _, err := os.Stat("/dev/" + name); err == nil {
				return "/dev/" + name
			}
		}
	}
	b, err := os.ReadFile("/sys/class/tty/console/active")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			dev := "/dev/" + f[len(f)-1]
			if _, err := os.Stat(dev); err == nil {
				return dev
			}
		}
	}
	return "/dev/console"
}

// consoleDevice picks from /proc/consoles the console that is
// /dev/console (flag C): with console=tty0 console=ttyS0 that is the
// serial line, where PID 1's output goes, and the shell must be there too.
func consoleDevice(procConsoles string) string {
	for _, l := range strings.Split(procConsoles, "\n") {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		open := strings.Index(l, "(")
		end := strings.Index(l, ")")
		if open < 0 || end < open {
			continue
		}
		if strings.Contains(l[open:end], "C") {
			return f[0]
		}
	}
	return ""
}

// drainConsole waits until the serial line has sent what PID 1 wrote, so
// that the last lines before power-off are not lost in the UART's buffer.
func drainConsole() {
	if f, ok := console.out.(*os.File); ok {
		unix.IoctlSetInt(int(f.Fd()), unix.TCSBRK, 1)
	}
}
