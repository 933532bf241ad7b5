package boot

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The console shell. After a failure it is the rescue shell: it starts at
// once and again whenever it exits, so the box can always be inspected
// from the serial console while PID 1 keeps running. After ready it waits
// for Enter, so the console stays a clean log until someone wants it.

// consoleShell is the console shell's state.
type consoleShell struct {
	rescue atomic.Bool
	loop   sync.Once
	mu     sync.Mutex
	proc   *os.Process // the running shell, nil between shells
}

// startConsoleShell starts the console shell loop; rescue starts a shell
// right away instead of on Enter.
func (p *pid1) startConsoleShell(rescue bool) {
	if rescue {
		p.shell.rescue.Store(true)
	}
	p.shell.loop.Do(func() { goForever("console shell", p.shellLoop) })
}

func (p *pid1) shellLoop() {
	sh := &p.shell
	tty := consoleTTY()
	saved, _ := getTermios(tty)
	prompt := true
	for {
		if p.shuttingDown() {
			return
		}
		if !sh.rescue.Load() {
			if prompt {
				Logf("press Enter for a shell")
				prompt = false
			}
			if !p.waitForEnter(tty) {
				continue
			}
		}
		prompt = true
		began := time.Now()
		err := sh.run(tty)
		if saved != nil {
			setTermios(tty, saved) // a killed shell can leave the line raw
		}
		if err != nil {
			Logf("console shell: %v", err)
		}
		// A shell that cannot start or dies at once must not spin.
		if time.Since(began) < time.Second {
			time.Sleep(2 * time.Second)
		}
		if sh.rescue.Load() && !p.shuttingDown() {
			Logf("rescue shell exited; starting another")
		}
	}
}

// waitForEnter returns true when a line was typed on tty, and false now
// and then so that the loop can notice a switch to rescue mode.
func (p *pid1) waitForEnter(tty string) bool {
	f, err := os.OpenFile(tty, os.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		time.Sleep(5 * time.Second)
		return false
	}
	defer f.Close()
	fd := int(f.Fd())
	buf := make([]byte, 256)
	for !p.shell.rescue.Load() && !p.shuttingDown() {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 500)
		if err != nil || n == 0 {
			continue
		}
		m, err := unix.Read(fd, buf)
		if err != nil && err != unix.EAGAIN {
			time.Sleep(time.Second)
			return false
		}
		if m > 0 && bytes.ContainsAny(buf[:m], "\r\n") {
			return true
		}
	}
	return p.shell.rescue.Load()
}

// run runs busybox sh on tty as the leader of a new session with tty as
// its controlling terminal, so that job control and Ctrl-C work, and
// waits for it.
func (c *consoleShell) run(tty string) error {
	f, err := os.OpenFile(tty, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	sh := "/bin/sh"
	args := []string{"sh"}
	if _, err := os.Stat(sh); err != nil {
		sh, args = "/bin/busybox", []string{"sh"}
	}
	cmd := &exec.Cmd{
		Path:   sh,
		Args:   args,
		Dir:    "/",
		Env:    shellEnv(),
		Stdin:  f,
		Stdout: f,
		Stderr: f,
		SysProcAttr: &syscall.SysProcAttr{
			Setsid:  true,
			Setctty: true,
			Ctty:    0,
		},
	}
	if err := StartCommand(cmd); err != nil {
		return err
	}
	c.mu.Lock()
	c.proc = cmd.Process
	c.mu.Unlock()
	err = cmd.Wait()
	c.mu.Lock()
	c.proc = nil
	c.mu.Unlock()
	if _, ok := err.(*exec.ExitError); ok {
		return nil // the shell's own exit status is the user's business
	}
	return err
}

// stop hangs up the console shell's session: an interactive shell
// ignores SIGTERM but not SIGHUP.
func (c *consoleShell) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc != nil {
		unix.Kill(-c.proc.Pid, unix.SIGHUP)
		unix.Kill(-c.proc.Pid, unix.SIGCONT)
	}
}

// shellRC is sourced by the console shell (through $ENV). Busybox's sh
// runs its own applets before it searches PATH, and busybox's poweroff
// signals PID 1 the way busybox init expects (SIGUSR2), which nucbox reads
// as reboot. A path with a slash is executed as a file, and the image links
// these paths to nucbox, which sends the signal nucbox means.
const shellRC = `poweroff() { /sbin/poweroff "$@"; }
reboot() { /sbin/reboot "$@"; }
halt() { /sbin/halt "$@"; }
`

const shellRCPath = "/run/nucbox/shell.rc"

func shellEnv() []string {
	term := os.Getenv("TERM")
	if term == "" {
		term = "linux"
	}
	env := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/",
		"TERM=" + term,
		`PS1=\h:\w# `,
	}
	if err := os.MkdirAll(filepath.Dir(shellRCPath), 0o755); err == nil {
		if err := os.WriteFile(shellRCPath, []byte(shellRC), 0o644); err == nil {
			env = append(env, "ENV="+shellRCPath)
		}
	}
	return env
}

func getTermios(tty string) (*unix.Termios, error) {
	f, err := os.OpenFile(tty, os.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
}

func setTermios(tty string, t *unix.Termios) {
	f, err := os.OpenFile(tty, os.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	defer f.Close()
	unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, t)
}
