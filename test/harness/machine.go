package harness

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
)

// Machine is one running QEMU. Its console is read from the moment QEMU
// starts; Expect and friends look at it, Send types into it.
type Machine struct {
	Name string
	// Args is QEMU's command line, logged for reproducing a failure by hand.
	Args []string
	// Started is when the guest CPU was let go (after QMP connected).
	Started time.Time

	tb       testing.TB
	console  *Console
	t0       atomic.Int64 // UnixNano of Started, read by the console logger
	opts     Options
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	sockDir  string
	mon      *monitor
	readers  sync.WaitGroup
	exited   chan struct{}
	exitErr  error // set before exited is closed
	stderr   bytes.Buffer
	stderrMu sync.Mutex
	forwards map[string]int // "tcp/22" -> host port
	close    sync.Once
}

var machineCounts sync.Map // testing.TB -> *atomic.Int32

// Boot starts QEMU with o and returns once the guest is running and its
// monitor answers. The machine is stopped and everything it left behind
// is removed when the test ends, whether it passed, failed or panicked.
// If the test binary itself dies, the kernel kills QEMU (parent-death
// signal), so no run leaves a stray emulator behind.
func Boot(tb testing.TB, o Options) *Machine {
	tb.Helper()
	m, err := start(tb, o)
	if err != nil {
		tb.Fatalf("boot: %v", err)
	}
	return m
}

func start(tb testing.TB, o Options) (*Machine, error) {
	if o.Name == "" {
		c, _ := machineCounts.LoadOrStore(tb, new(atomic.Int32))
		o.Name = "m" + strconv.Itoa(int(c.(*atomic.Int32).Add(1)))
	}
	artifacts := ArtifactsDir(tb)
	sockDir, err := socketDir("vm")
	if err != nil {
		return nil, err
	}
	m := &Machine{
		Name:     o.Name,
		tb:       tb,
		sockDir:  sockDir,
		exited:   make(chan struct{}),
		forwards: map[string]int{},
	}
	m.t0.Store(time.Now().UnixNano())
	var onLine func(string)
	if !o.Quiet {
		onLine = func(line string) {
			// Logging after the test finished panics; Close waits for the
			// readers before it returns, so the log never outlives the test.
			since := time.Duration(time.Now().UnixNano() - m.t0.Load())
			tb.Logf("%s %7.3fs| %s", m.Name, since.Seconds(), printable(line))
		}
	}
	m.console = NewConsole(onLine)

	// Resolve what the command line needs from the outside world.
	o.NICs = append([]NIC(nil), o.NICs...)
	for i := range o.NICs {
		n := &o.NICs[i]
		if n.User != nil {
			u := *n.User
			u.Forward = append([]Forward(nil), u.Forward...)
			for j := range u.Forward {
				f := &u.Forward[j]
				if f.Proto == "" {
					f.Proto = "tcp"
				}
				if f.HostPort == 0 {
					if f.HostPort, err = freePort(f.Proto); err != nil {
						os.RemoveAll(sockDir)
						return nil, err
					}
				}
				m.forwards[f.Proto+"/"+strconv.Itoa(f.GuestPort)] = f.HostPort
			}
			n.User = &u
		}
		if n.Segment != nil {
			n.segmentLocal = n.Segment.attach(fmt.Sprintf("%s.nic%d", o.Name, i))
		}
	}
	if o.Firmware.UEFI() {
		if o.EFIVars == "" {
			o.EFIVars = filepath.Join(artifacts, safeName(o.Name)+"-OVMF_VARS.fd")
			os.Remove(o.EFIVars)
		}
		if _, err := os.Stat(o.EFIVars); errors.Is(err, os.ErrNotExist) {
			if err := copyFile(OVMFVars, o.EFIVars); err != nil {
				os.RemoveAll(sockDir)
				return nil, fmt.Errorf("OVMF variables: %w", err)
			}
		}
	}
	m.opts = o
	qmpPath := filepath.Join(sockDir, "qmp")
	if m.Args, err = qemuArgs(o, qmpPath); err != nil {
		os.RemoveAll(sockDir)
		return nil, err
	}

	logFile, err := os.Create(filepath.Join(artifacts, safeName(o.Name)+"-console.log"))
	if err != nil {
		os.RemoveAll(sockDir)
		return nil, err
	}
	m.cmd = exec.Command(QEMU, m.Args...)
	m.cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group, so that cleanup can kill QEMU and
		// anything it started in one go; and killed with the test binary.
		Setpgid:   true,
		Pdeathsig: syscall.SIGKILL,
	}
	var pipes [6]*os.File
	for i := 0; i < len(pipes); i += 2 {
		if pipes[i], pipes[i+1], err = os.Pipe(); err != nil {
			for _, f := range pipes[:i] {
				f.Close()
			}
			logFile.Close()
			os.RemoveAll(sockDir)
			return nil, err
		}
	}
	stdinR, stdinW, stdoutR, stdoutW, stderrR, stderrW := pipes[0], pipes[1], pipes[2], pipes[3], pipes[4], pipes[5]
	m.cmd.Stdin, m.cmd.Stdout, m.cmd.Stderr = stdinR, stdoutW, stderrW
	if !o.Quiet {
		tb.Logf("%s: %s %s", m.Name, QEMU, shellQuote(m.Args))
	}
	err = m.cmd.Start()
	stdinR.Close()
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		stdinW.Close()
		stdoutR.Close()
		stderrR.Close()
		logFile.Close()
		os.RemoveAll(sockDir)
		return nil, fmt.Errorf("start %s: %w", QEMU, err)
	}
	m.stdin = stdinW
	tb.Cleanup(m.Close)

	m.readers.Add(2)
	go func() {
		defer m.readers.Done()
		io.Copy(teeFile{m.console, logFile}, stdoutR)
		stdoutR.Close()
		logFile.Close()
	}()
	go func() {
		defer m.readers.Done()
		m.copyStderr(stderrR)
	}()
	go func() {
		err := m.cmd.Wait()
		m.readers.Wait()
		m.exitErr = err
		m.stderrMu.Lock()
		msg := strings.TrimSpace(m.stderr.String())
		m.stderrMu.Unlock()
		why := "qemu exited (status 0)"
		if err != nil {
			why = "qemu exited: " + err.Error()
		}
		if msg != "" {
			why += "; its stderr: " + msg
		}
		m.console.Close(errors.New(why))
		close(m.exited)
	}()

	if m.mon, err = dialQMP(qmpPath, 30*time.Second, m.exited); err != nil {
		select {
		case <-m.exited:
			// QEMU refused its command line or a file; its stderr
			// says why.
			return m, m.console.closeErr()
		default:
			return m, err
		}
	}
	// Timings start here, not at exec: QEMU's own start-up varies with
	// the load and is not the guest's business.
	m.Started = time.Now()
	m.t0.Store(m.Started.UnixNano())
	if _, err := m.QMP("cont", nil); err != nil {
		return m, err
	}
	return m, nil
}

// teeFile copies the console to its file. Unlike io.MultiWriter it goes on
// when the file fails (a full disk): the test must keep seeing the console,
// and QEMU must never block on a stdout nobody reads.
type teeFile struct {
	c *Console
	f *os.File
}

func (t teeFile) Write(p []byte) (int, error) {
	t.c.Write(p)
	t.f.Write(p)
	return len(p), nil
}

// copyStderr keeps QEMU's own complaints: in the log as they come, and in
// the error Expect returns once QEMU has exited.
func (m *Machine) copyStderr(r io.ReadCloser) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		m.stderrMu.Lock()
		if m.stderr.Len() < 64<<10 {
			m.stderr.WriteString(l + "\n")
		}
		m.stderrMu.Unlock()
		m.tb.Logf("%s qemu: %s", m.Name, printable(l))
	}
	io.Copy(io.Discard, r) // a line too long for the scanner
}

// Expect waits for a console line matching re; see Console.Expect.
func (m *Machine) Expect(timeout time.Duration, re string) ([]string, error) {
	return m.console.Expect(timeout, re)
}

// ExpectPrompt is Expect including the partial last line; see
// Console.ExpectPrompt.
func (m *Machine) ExpectPrompt(timeout time.Duration, re string) ([]string, error) {
	return m.console.ExpectPrompt(timeout, re)
}

// Output is the whole console so far.
func (m *Machine) Output() string { return m.console.String() }

// MustExpect is Expect that fails the test. Like t.Fatal, call it only from
// the test's goroutine.
func (m *Machine) MustExpect(timeout time.Duration, re string) []string {
	m.tb.Helper()
	match, err := m.Expect(timeout, re)
	if err != nil {
		m.tb.Fatalf("%s: %v", m.Name, err)
	}
	return match
}

// ExpectReady waits for PID 1's ready line and returns its summary. A
// failed boot fails the test as soon as it is reported, quoting the failure
// and its detail lines, instead of running into the timeout.
func (m *Machine) ExpectReady(timeout time.Duration) ReadyInfo {
	m.tb.Helper()
	ri, err := m.WaitReady(timeout)
	if err != nil {
		m.tb.Fatalf("%s: %v", m.Name, err)
	}
	return ri
}

// WaitReady is ExpectReady returning the error, for callers that must not
// stop the test (benchmarks that clean up first, other goroutines).
func (m *Machine) WaitReady(timeout time.Duration) (ReadyInfo, error) {
	match, err := m.Expect(timeout, ReadyOrFailedPattern)
	if err != nil {
		return ReadyInfo{}, fmt.Errorf("waiting for ready: %w", err)
	}
	if match[1] == "" {
		// The failure's detail lines follow it; give them a moment to
		// arrive, bounded by the rescue announcement that ends them.
		m.Expect(10*time.Second, RescuePattern)
		return ReadyInfo{}, fmt.Errorf("boot failed: %s\n%s", match[2], failureDetail(m.Output()))
	}
	return ParseReady(match[1])
}

// failureDetail cuts the console down to the failure line and what follows.
func failureDetail(out string) string {
	i := strings.LastIndex(out, "nucbox: failed")
	if i < 0 {
		return ""
	}
	return out[i:]
}

// Send types text on the serial console, as is: add "\n" to press enter.
// Text sent before the guest's shell has set up its terminal may be thrown
// away by the guest; wait for a prompt with ExpectPrompt first.
func (m *Machine) Send(text string) error {
	select {
	case <-m.exited:
		return fmt.Errorf("%s: send: qemu has exited", m.Name)
	default:
	}
	_, err := io.WriteString(m.stdin, text)
	return err
}

var shellSeq atomic.Int64

// Shell runs one command line in the shell on the console and returns what
// it printed and an error if it exited non-zero. It waits for the prompt
// first, so it can be called right after the shell was announced. The
// command's output is framed by markers computed by the shell, so the echo
// of the typed line never counts as output.
func (m *Machine) Shell(timeout time.Duration, command string) (string, error) {
	n := shellSeq.Add(1) + 1000
	deadline := time.Now().Add(timeout)
	if _, err := m.ExpectPrompt(timeout, ShellPromptPattern); err != nil {
		return "", fmt.Errorf("shell %q: no prompt: %w", command, err)
	}
	line := fmt.Sprintf("echo nbx-begin-$((%d+0)); %s; echo nbx-end-$((%d+0))-rc-$?\n", n, command, n)
	if err := m.Send(line); err != nil {
		return "", err
	}
	// The kernel's console messages can land on a marker's line, after
	// it (the shell's newline comes later): a marker ends at a non-digit.
	if _, err := m.Expect(time.Until(deadline), fmt.Sprintf(`^nbx-begin-%d(?:\D.*)?$`, n)); err != nil {
		return "", fmt.Errorf("shell %q: %w", command, err)
	}
	from := m.mark()
	match, err := m.Expect(time.Until(deadline), fmt.Sprintf(`nbx-end-%d-rc-(\d+)(?:\D.*)?$`, n))
	if err != nil {
		return "", fmt.Errorf("shell %q: %w", command, err)
	}
	out := m.between(from, fmt.Sprintf("nbx-end-%d-rc-", n))
	if match[1] != "0" {
		return out, fmt.Errorf("shell %q: exit status %s: %s", command, match[1], out)
	}
	return out, nil
}

// mark and between let Shell cut the output between two matches.
func (m *Machine) mark() int {
	m.console.mu.Lock()
	defer m.console.mu.Unlock()
	return m.console.cursor
}

func (m *Machine) between(from int, endMarker string) string {
	c := m.console
	c.mu.Lock()
	defer c.mu.Unlock()
	s := string(c.buf[from:c.cursor])
	if i := strings.LastIndex(s, endMarker); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimPrefix(strings.ReplaceAll(s, "\r", ""), "\n")
	return s
}

// QMP runs a QMP command with QMPTimeout and returns its "return" value.
func (m *Machine) QMP(command string, args any) (json.RawMessage, error) {
	if m.mon == nil {
		return nil, fmt.Errorf("%s: qmp %s: no monitor", m.Name, command)
	}
	return m.mon.run(QMPTimeout, command, args)
}

// Powerdown presses the ACPI power button (QMP system_powerdown), which
// the appliance must answer with an orderly poweroff.
func (m *Machine) Powerdown() error {
	_, err := m.QMP("system_powerdown", nil)
	return err
}

// Quit stops QEMU at once (QMP quit) and waits for it to exit.
func (m *Machine) Quit() error {
	_, err := m.QMP("quit", nil)
	// QEMU may close the socket before its reply is read: whether it
	// exited is what counts.
	select {
	case <-m.exited:
		return nil
	case <-time.After(QMPTimeout):
		if err == nil {
			err = errors.New("still running")
		}
		return fmt.Errorf("%s: quit: %w", m.Name, err)
	}
}

// Status is QEMU's run state (QMP query-status): running, paused,
// shutdown, guest-panicked...
func (m *Machine) Status() (string, error) {
	out, err := m.QMP("query-status", nil)
	if err != nil {
		return "", err
	}
	var st struct {
		Status string `json:"status"`
	}
	err = json.Unmarshal(out, &st)
	return st.Status, err
}

// Events returns the QMP events received so far.
func (m *Machine) Events() []qmp.Event {
	if m.mon == nil {
		return nil
	}
	return m.mon.snapshot()
}

// WaitEvent waits for a QMP event (SHUTDOWN, POWERDOWN, ...), returning at
// once if it already arrived.
func (m *Machine) WaitEvent(timeout time.Duration, name string) (qmp.Event, error) {
	if m.mon == nil {
		return qmp.Event{}, fmt.Errorf("%s: no monitor", m.Name)
	}
	return m.mon.waitEvent(timeout, name)
}

// WaitExit waits for QEMU to exit on its own (the guest powered off, or
// rebooted, which -no-reboot turns into an exit) and reports a non-zero
// exit status as an error.
func (m *Machine) WaitExit(timeout time.Duration) error {
	select {
	case <-m.exited:
		if m.exitErr != nil {
			return fmt.Errorf("%s: qemu: %w", m.Name, m.exitErr)
		}
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s: qemu still running after %v: %w", m.Name, timeout, ErrTimeout)
	}
}

// Exited is closed when QEMU has exited.
func (m *Machine) Exited() <-chan struct{} { return m.exited }

// HostAddr is the host address forwarded to a guest TCP port of a user-mode
// NIC (see Forward).
func (m *Machine) HostAddr(guestPort int) string {
	return m.hostAddr("tcp", guestPort)
}

// HostUDPAddr is HostAddr for UDP.
func (m *Machine) HostUDPAddr(guestPort int) string {
	return m.hostAddr("udp", guestPort)
}

func (m *Machine) hostAddr(proto string, guestPort int) string {
	p, ok := m.forwards[proto+"/"+strconv.Itoa(guestPort)]
	if !ok {
		m.tb.Fatalf("%s: guest %s port %d is not forwarded", m.Name, proto, guestPort)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
}

// Close stops the machine now: QMP quit, then SIGKILL for the process
// group if QEMU does not go, then removes its sockets. It runs at the end
// of the test anyway; call it to free the CPU early (benchmarks boot many
// machines in one test). It is safe to call more than once.
func (m *Machine) Close() {
	m.close.Do(func() {
		select {
		case <-m.exited:
		default:
			// quit first: QEMU flushes its files and logs, which a
			// killed QEMU does not.
			if m.mon != nil {
				m.mon.run(3*time.Second, "quit", nil)
				select {
				case <-m.exited:
				case <-time.After(5 * time.Second):
				}
			}
		}
		// Also after a clean exit: nothing QEMU started may outlive it.
		if m.cmd.Process != nil {
			syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		}
		<-m.exited
		if m.mon != nil {
			m.mon.close()
		}
		m.stdin.Close()
		os.RemoveAll(m.sockDir)
		if !m.opts.Quiet {
			m.tb.Logf("%s: stopped %.1fs after start", m.Name, time.Since(time.Unix(0, m.t0.Load())).Seconds())
		}
	})
}

// csi matches terminal control sequences (colours, cursor queries) that
// firmware and shells write to the serial port.
var csi = regexp.MustCompile(`\x1b(\[[0-9;?=<>]*[ -/]*[@-~]|[@-Z\\-~])`)

// printable makes a console line safe for the test log: control sequences
// would otherwise act on the terminal of whoever reads the log. The
// console file keeps the raw bytes.
func printable(line string) string {
	line = csi.ReplaceAllString(line, "")
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, line)
}

func freePort(proto string) (int, error) {
	// The port is free now and QEMU binds it a moment later; a collision
	// needs another process to grab the same ephemeral port in between.
	if proto == "udp" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
