package vmm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/internal/cgroup"
	"github.com/nucbox/nucbox/internal/exitwait"
	"github.com/nucbox/nucbox/internal/safe"
)

// proc is one QEMU process.
type proc struct {
	cmd     *exec.Cmd
	mon     *monitor
	start   time.Time
	exited  chan struct{} // closed once Wait returned
	waitErr error
	stderr  *Ring
	// stdin is the write end of QEMU's stdin, the guest's serial input
	// (see WriteConsole); closed once QEMU exited.
	stdin *os.File
}

// exec starts QEMU. Its stdout is the guest's serial console; its stderr
// (QEMU's own messages) goes to qemu.log and a small ring for status.
//
// A guest with a Cgroup starts inside it (CLONE_INTO_CGROUP): every page
// QEMU touches, from its first instruction on, counts against the group's
// limit, and the group goes when QEMU has exited.
func (g *Guest) exec(args []string, accel Accel) (*proc, error) {
	paths := g.spec.Paths()
	cg, err := g.cgroup()
	if err != nil {
		return nil, err
	}
	if cg != nil {
		defer cg.Close()
	}
	// QEMU's own descriptors stay with it alone: nucbox's copies close
	// once it started (or failed to), so a TAP loses its carrier when
	// QEMU exits.
	inherit, err := g.inherited()
	defer func() {
		for _, f := range inherit {
			f.Close()
		}
	}()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	serial, err := openLog(paths.Serial, g.opts.SerialLogMax)
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	qlog, err := openLog(paths.QEMULog, 1<<20)
	if err != nil {
		r.Close()
		w.Close()
		serial.Close()
		return nil, err
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		r.Close()
		w.Close()
		serial.Close()
		qlog.Close()
		return nil, err
	}
	p := &proc{exited: make(chan struct{}), stderr: NewRing(4 << 10), stdin: inW}
	cmd := exec.Command(lookBinary(g.opts.QEMU), args...)
	cmd.Stdin = inR
	cmd.Stdout = w
	cmd.Stderr = io.MultiWriter(p.stderr, qlog)
	// Its own process group: a ^C on nucbox's console or a signal to
	// nucbox's group must not reach the guests; nucbox stops them in
	// order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cg != nil {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(cg.Fd())
	}
	if u := g.spec.User; u != nil {
		cmd.SysProcAttr.Credential = credential(u)
		cmd.ExtraFiles = inherit
	}
	p.cmd = cmd
	p.start = time.Now()
	// Live before the start: a QEMU that exits at once still has its
	// counts kept by the waiter below.
	g.setCgLive(cg != nil)
	err = g.opts.Procs.Start(cmd)
	w.Close()
	inR.Close()
	if err != nil {
		r.Close()
		inW.Close()
		serial.Close()
		qlog.Close()
		g.setCgLive(false)
		return nil, fmt.Errorf("start QEMU: %w", err)
	}
	pid := cmd.Process.Pid
	// QEMU inherits nucbox's oom_score_adj, -1000 for PID 1, under which
	// the OOM killer could never end a QEMU at its cgroup's limit and
	// the group would stay stuck there; it gets the default back.
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid), []byte("0"), 0); err != nil {
		g.log.Warn("QEMU's oom_score_adj stays nucbox's", "err", err)
	}
	os.WriteFile(paths.PID, []byte(strconv.Itoa(pid)+"\n"), 0o644)
	header := fmt.Sprintf("\n[nucbox %s: QEMU pid %d started, accel %s]\n", p.start.UTC().Format(time.RFC3339), pid, accel)
	g.ring.Write([]byte(header))
	serial.Write([]byte(header))
	fmt.Fprintf(qlog, "%s%s %s\n", header[1:], g.opts.QEMU, strings.Join(args, " "))
	logf := safe.Slog(g.log)
	safe.Go(logf, g.spec.Name+": serial", func() {
		defer serial.Close()
		defer r.Close()
		// A panic costs the serial log what was in flight, not the rest.
		safe.Run(context.Background(), logf, g.spec.Name+": serial", safe.DefaultBackoff, func(context.Context) error {
			copySerial(r, serial, g.ring)
			return nil
		})
	})
	safe.Go(logf, g.spec.Name+": QEMU wait", func() {
		if cmd.Process != nil {
			exitwait.Exited(cmd.Process.Pid) // without holding a thread meanwhile
		}
		p.waitErr = g.opts.Procs.Wait(cmd)
		inW.Close()
		qlog.Close()
		if cg != nil {
			g.endHits()
			// Before exited closes: the next start makes the group anew.
			if err := cgroup.Remove(g.opts.CgroupRoot, g.spec.Cgroup); err != nil {
				g.log.Warn("QEMU's cgroup stays", "err", err)
			}
		}
		close(p.exited)
	})
	return p, nil
}

// inherited opens what an unprivileged QEMU gets as descriptors: the
// QMP socket (qmpFD), then the TAPs (tapFD); nothing for a QEMU that runs
// as nucbox's user. On an error it returns what it opened, to be closed.
func (g *Guest) inherited() ([]*os.File, error) {
	if g.spec.User == nil {
		return nil, nil
	}
	qmp, err := listenQMP(g.spec.Paths().QMP)
	if err != nil {
		return nil, err
	}
	files := []*os.File{qmp}
	for _, n := range g.spec.NICs {
		tap, err := g.opts.OpenTAP(n.TAP)
		if err != nil {
			return files, err
		}
		files = append(files, tap)
	}
	return files, nil
}

// Hits are the guest's memory limit and how often QEMU ran into it,
// over all its runs: those that ended and the one under way.
func (g *Guest) Hits() cgroup.Hits {
	g.mu.Lock()
	defer g.mu.Unlock()
	h := g.hits
	if g.cgLive {
		if cur, err := cgroup.ReadHits(filepath.Join(g.opts.CgroupRoot, g.spec.Cgroup), false); err == nil {
			h = h.Add(cur)
		}
	}
	if h.Memory.Limit == 0 {
		h.Memory.Limit = g.spec.MemoryMax
	}
	return h
}

func (g *Guest) setCgLive(live bool) {
	g.mu.Lock()
	g.cgLive = live
	g.mu.Unlock()
}

// endHits keeps the counts of the run whose cgroup is about to go, under
// the lock Hits takes: a reader sees them in the group or in the total,
// never in both.
func (g *Guest) endHits() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.cgLive {
		return
	}
	if cur, err := cgroup.ReadHits(filepath.Join(g.opts.CgroupRoot, g.spec.Cgroup), false); err == nil {
		g.hits = g.hits.Add(cur)
	}
	g.cgLive = false
}

// cgroup makes the guest's cgroup with its memory limit and opens it,
// or returns nil for a guest without one.
func (g *Guest) cgroup() (*os.File, error) {
	s := g.spec
	if s.Cgroup == "" {
		return nil, nil
	}
	if _, err := cgroup.Create(g.opts.CgroupRoot, s.Cgroup, cgroup.Limits{Memory: s.MemoryMax}); err != nil {
		return nil, err
	}
	return cgroup.Open(g.opts.CgroupRoot, s.Cgroup)
}

// lastLine is the last line of QEMU's stderr, where it puts the error
// that made it exit.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// describeExit turns Wait's result into status text.
func describeExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + unix.SignalName(ws.Signal())
		}
		return ee.Error()
	}
	return err.Error()
}
