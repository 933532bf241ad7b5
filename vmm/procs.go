package vmm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Procs starts and waits for the processes vmm runs (QEMU and qemu-img).
//
// As PID 1, nucbox reaps orphans; a reaper that waits for any pid steals
// the exit status of a child that os/exec is about to Wait for. The boot
// package supplies a Procs whose Start registers the child under the same
// lock its reaper takes, and whose Wait unregisters it after cmd.Wait, so
// the reaper can tell tracked children from orphans without a race. Any
// process that is not PID 1 can use ExecProcs.
type Procs interface {
	Start(cmd *exec.Cmd) error
	Wait(cmd *exec.Cmd) error
}

// ExecProcs is Procs for an ordinary process: cmd.Start and cmd.Wait.
type ExecProcs struct{}

// Start starts cmd.
func (ExecProcs) Start(cmd *exec.Cmd) error { return cmd.Start() }

// Wait waits for cmd.
func (ExecProcs) Wait(cmd *exec.Cmd) error { return cmd.Wait() }

// binDirs are searched after $PATH: the kernel starts PID 1 without a
// PATH, and exec.LookPath then finds nothing.
var binDirs = []string{"/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin", "/sbin"}

// lookBinary resolves a command name to a path; a name with a slash, or
// one found nowhere, is returned as is (exec then reports it missing).
func lookBinary(name string) string {
	if strings.ContainsRune(name, '/') {
		return name
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range binDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return name
}

// output runs a short-lived command through procs and returns its stdout;
// a failure carries the command and its stderr, which is where qemu-img
// says what is wrong.
func output(ctx context.Context, procs Procs, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, lookBinary(name), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := procs.Start(cmd); err != nil {
		return nil, err
	}
	if err := procs.Wait(cmd); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return stdout.Bytes(), &CommandError{Args: cmd.Args, Msg: msg, Err: err}
	}
	return stdout.Bytes(), nil
}

// CommandError is a helper command that failed.
type CommandError struct {
	Args []string
	Msg  string // stderr, or the exit status when stderr was empty
	Err  error
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("%s: %s", strings.Join(e.Args, " "), e.Msg)
}

func (e *CommandError) Unwrap() error { return e.Err }

// exitCode is the exit status of a failed command, -1 when it did not exit
// normally.
func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
