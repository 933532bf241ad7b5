package boot

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Reaping orphans without stealing exit statuses.
//
// As PID 1 every orphan in the system becomes our child, and it stays a
// zombie until we wait for it. But os/exec and libcontainer wait for their
// own children by pid; if PID 1 reaped those with wait4(-1) their Wait
// would fail with ECHILD and the status would be lost. So the reaper never
// waits for "any child". On SIGCHLD it lists the zombies whose parent is
// this process (from /proc/<pid>/stat) and reaps, by pid, only those that
// nobody owns:
//
//   - Owned children are registered with Track (or StartCommand) by pid
//     and start time, so a recycled pid is not mistaken for an owned one
//     and entries whose process is gone are simply dropped.
//   - Registration races with the child's exit: a child can exit between
//     fork and registration. Starts are therefore counted: a scan runs only
//     when no start is in progress, and gives up (to retry shortly) if one
//     began while it was listing zombies, so it never acts on a child that
//     was forked but not yet registered. Starts never wait for a scan and
//     may nest (a runtime started under WithSpawnGuard may itself call
//     StartCommand).
//   - Code that forks without going through StartCommand or WithSpawnGuard
//     (a library that runs a helper) is covered by a grace period: a
//     zombie is reaped only after it has been seen as an unowned zombie
//     for reaperGrace, by which time an owner blocked in Wait has long
//     collected it. Real orphans only linger that much longer.

// reaperGrace is how long an unowned zombie is left for an owner to
// collect.
const reaperGrace = 3 * time.Second

// spawnRetry is how soon a scan that met a start in progress runs again.
const spawnRetry = 50 * time.Millisecond

// procKey identifies a process across pid reuse.
type procKey struct {
	pid   int
	start uint64 // clock ticks after boot, from /proc/<pid>/stat
}

// Reaper reaps the orphans of one parent process.
type Reaper struct {
	mu       sync.Mutex
	spawning int                   // starts in progress
	gen      uint64                // starts begun, ever
	tracked  map[int]uint64        // pid -> start time of the owned child
	seen     map[procKey]time.Time // unowned zombies -> when first seen
	grace    time.Duration
	self     int
	proc     string
	logf     func(format string, args ...any)
	reaped   int
}

// NewReaper returns a reaper for the zombie children of this process.
func NewReaper(grace time.Duration) *Reaper {
	return &Reaper{
		tracked: map[int]uint64{},
		seen:    map[procKey]time.Time{},
		grace:   grace,
		self:    os.Getpid(),
		proc:    "/proc",
		logf:    func(string, ...any) {},
	}
}

// Children is PID 1's reaper.
var Children = NewReaper(reaperGrace)

// StartCommand starts cmd as an owned child of PID 1: its owner may Wait
// for it whenever it likes. Packages PID 1 drives take this as their
// "start" function (func(*exec.Cmd) error) instead of calling cmd.Start.
func StartCommand(cmd *exec.Cmd) error { return Children.Start(cmd) }

// WithSpawnGuard runs fn, which forks children it waits for itself (a
// container runtime's setup processes), with orphan reaping paused, and
// registers the pids fn returns as owned.
func WithSpawnGuard(fn func() (pids []int, err error)) error { return Children.WithSpawnGuard(fn) }

// Start starts cmd and tracks it.
func (r *Reaper) Start(cmd *exec.Cmd) error {
	r.beginSpawn()
	if err := cmd.Start(); err != nil {
		r.endSpawn()
		return err
	}
	r.endSpawn(cmd.Process.Pid)
	return nil
}

// WithSpawnGuard runs fn with reaping paused and tracks the pids it
// returns.
func (r *Reaper) WithSpawnGuard(fn func() ([]int, error)) error {
	r.beginSpawn()
	var pids []int
	defer func() { r.endSpawn(pids...) }()
	pids, err := fn()
	return err
}

// Track marks pid as owned. Prefer StartCommand, which cannot race with
// the child's exit.
func (r *Reaper) Track(pid int) {
	r.beginSpawn()
	r.endSpawn(pid)
}

func (r *Reaper) beginSpawn() {
	r.mu.Lock()
	r.spawning++
	r.gen++
	r.mu.Unlock()
}

// endSpawn registers the children a start forked and ends the start.
func (r *Reaper) endSpawn(pids ...int) {
	starts := make(map[int]uint64, len(pids))
	for _, pid := range pids {
		// A child that is already gone was collected by its owner:
		// nothing to protect.
		if st, err := readProcStat(r.proc, pid); err == nil {
			starts[pid] = st.start
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for pid, start := range starts {
		r.tracked[pid] = start
	}
	r.spawning--
}

// Reaped returns how many orphans the reaper has collected.
func (r *Reaper) Reaped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reaped
}

// Run reaps on every SIGCHLD, and again when a zombie's grace ends, until
// stop is closed.
func (r *Reaper) Run(stop <-chan struct{}) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGCHLD)
	defer signal.Stop(ch)
	timer := time.NewTimer(time.Hour)
	for {
		next := r.Scan(time.Now())
		if next > 0 {
			timer.Reset(next)
		}
		select {
		case <-ch:
		case <-timer.C:
		case <-stop:
			return
		}
	}
}

// Scan reaps the unowned zombies whose grace has ended and returns when
// it should run again for those still in their grace (0: no need).
func (r *Reaper) Scan(now time.Time) time.Duration {
	// A cheap check first: most SIGCHLDs are for owned children that
	// have already been collected, leaving no zombie at all.
	var info unix.Siginfo
	// With WNOHANG and nothing waitable Linux leaves si_signo zero.
	if err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != nil || info.Signo == 0 {
		r.mu.Lock()
		clear(r.seen)
		r.mu.Unlock()
		return 0
	}

	r.mu.Lock()
	busy, gen := r.spawning > 0, r.gen
	r.mu.Unlock()
	if busy {
		return spawnRetry
	}
	zombies, alive := r.children()

	var reaped []string
	defer func() {
		// Logged after unlocking: console writes are slow.
		for _, m := range reaped {
			r.logf("%s", m)
		}
	}()
	// Held to the end, so no start can begin between a decision and
	// its wait4.
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.spawning > 0 || r.gen != gen {
		// A start began while the zombies were listed: one of them may
		// be its child, not registered yet.
		return spawnRetry
	}
	for pid, start := range r.tracked {
		if alive[pid] != start {
			delete(r.tracked, pid) // exited and collected, or pid reused
		}
	}
	var next time.Duration
	present := map[procKey]bool{}
	for _, z := range zombies {
		k := procKey{z.pid, z.start}
		present[k] = true
		first, ok := r.seen[k]
		if !ok {
			first = now
			r.seen[k] = now
		}
		owned := r.tracked[z.pid] == z.start
		reap, wait := reapDecision(owned, now.Sub(first), r.grace)
		if reap {
			var ws unix.WaitStatus
			if pid, err := unix.Wait4(z.pid, &ws, unix.WNOHANG, nil); err == nil && pid == z.pid {
				r.reaped++
				reaped = append(reaped, fmt.Sprintf("reaped orphan %d (%s): %s", z.pid, z.comm, describeStatus(ws)))
			}
			delete(r.seen, k)
			continue
		}
		if wait > 0 && (next == 0 || wait < next) {
			next = wait
		}
	}
	for k := range r.seen {
		if !present[k] {
			delete(r.seen, k)
		}
	}
	return next
}

// reapDecision decides for one zombie child: an owned one is never
// reaped; an unowned one is reaped once it has been a zombie for grace,
// and otherwise looked at again when its grace ends.
func reapDecision(owned bool, zombieFor, grace time.Duration) (reap bool, recheckIn time.Duration) {
	if owned {
		return false, 0
	}
	if zombieFor >= grace {
		return true, 0
	}
	return false, grace - zombieFor
}

// procStat is what the reaper needs from /proc/<pid>/stat.
type procStat struct {
	pid   int
	comm  string
	state byte
	ppid  int
	flags uint64
	start uint64
}

// parseProcStat parses /proc/<pid>/stat. The command name is in
// parentheses and may itself contain spaces and parentheses, so the
// fields are counted from the last ')'.
func parseProcStat(b []byte) (procStat, error) {
	var s procStat
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return s, fmt.Errorf("malformed stat %q", b)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return s, err
	}
	s.pid = pid
	s.comm = string(b[open+1 : end])
	f := bytes.Fields(b[end+1:])
	// f[0] is field 3 (state); ppid is 4, flags 9, starttime 22.
	if len(f) < 20 {
		return s, fmt.Errorf("short stat %q", b)
	}
	s.state = f[0][0]
	if s.ppid, err = strconv.Atoi(string(f[1])); err != nil {
		return s, err
	}
	if s.flags, err = strconv.ParseUint(string(f[6]), 10, 64); err != nil {
		return s, err
	}
	if s.start, err = strconv.ParseUint(string(f[19]), 10, 64); err != nil {
		return s, err
	}
	return s, nil
}

func readProcStat(proc string, pid int) (procStat, error) {
	b, err := os.ReadFile(proc + "/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(b)
}

// children lists this process's children: the zombies, and the start
// time of every child by pid.
func (r *Reaper) children() (zombies []procStat, all map[int]uint64) {
	all = map[int]uint64{}
	for _, st := range listProcs(r.proc) {
		if st.ppid != r.self {
			continue
		}
		all[st.pid] = st.start
		if st.state == 'Z' {
			zombies = append(zombies, st)
		}
	}
	return zombies, all
}

// listProcs reads the stat of every process in proc.
func listProcs(proc string) []procStat {
	d, err := os.Open(proc)
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	var out []procStat
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		if st, err := readProcStat(proc, pid); err == nil {
			out = append(out, st)
		}
	}
	return out
}

func describeStatus(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit %d", ws.ExitStatus())
	case ws.Signaled():
		return "killed by " + ws.Signal().String()
	}
	return fmt.Sprintf("status %#x", uint32(ws))
}
