package box

import (
	"fmt"
	"time"

	"github.com/nucbox/nucbox/internal/cgroup"
)

// limitsPoll is how often the box looks at the workloads' limit counts.
// Reading them is a few small cgroup files per workload.
const limitsPoll = 2 * time.Second

// limitsQuiet is the least time between two lines about the same
// workload's same limit: a fork bomb hits its limit thousands of times a
// second, and the log must stay readable (and small) meanwhile.
const limitsQuiet = 30 * time.Second

// limitWatch logs when a workload runs into one of its limits: one line
// when a count rises, then at most one per limitsQuiet with what rose
// since the last line. It keeps one entry per workload and limit it saw
// in the last poll, so workloads that leave the config leave nothing.
type limitWatch struct {
	logf  func(format string, args ...any)
	quiet time.Duration
	seen  map[string]*limitSeen
}

// limitSeen is one workload's one limit: the counts its last line told,
// and when.
type limitSeen struct {
	told   [2]int64
	toldAt time.Time
}

// limitSubject is a group whose limits the watch reads: a workload
// ("container hog") or the workloads' parent.
type limitSubject struct {
	who  string
	hits cgroup.Hits
}

func newLimitWatch(logf func(string, ...any)) *limitWatch {
	return &limitWatch{logf: logf, quiet: limitsQuiet, seen: map[string]*limitSeen{}}
}

// observe takes one poll's counts.
func (w *limitWatch) observe(now time.Time, subjects []limitSubject) {
	keep := map[string]bool{}
	for _, s := range subjects {
		h := s.hits
		mem := [2]int64{h.Memory.Max, h.Memory.OOMKill}
		w.check(now, s.who+"\x00memory", mem, keep, func(d [2]int64) string {
			if d[0] == 0 {
				// The kill came from a limit above the workload's own:
				// all workloads' together, or the box's memory.
				return fmt.Sprintf("%s: %d %s OOM-killed below its memory limit %s (in all: %d OOM kills)",
					s.who, d[1], plural(d[1], "process", "processes"), size(h.Memory.Limit), h.Memory.OOMKill)
			}
			line := fmt.Sprintf("%s: memory limit %s hit", s.who, size(h.Memory.Limit))
			if d[1] > 0 {
				line += fmt.Sprintf(", %d %s OOM-killed", d[1], plural(d[1], "process", "processes"))
			} else {
				line += fmt.Sprintf(" (%d times), reclaiming", d[0])
			}
			return line + fmt.Sprintf(" (in all: reached %d times, %d OOM kills)", h.Memory.Max, h.Memory.OOMKill)
		})
		w.check(now, s.who+"\x00pids", [2]int64{h.PIDs.Max}, keep, func(d [2]int64) string {
			return fmt.Sprintf("%s: pids limit %s hit, %d %s refused (in all: %d)",
				s.who, count(h.PIDs.Limit), d[0], plural(d[0], "fork", "forks"), h.PIDs.Max)
		})
	}
	for k := range w.seen {
		if !keep[k] {
			delete(w.seen, k)
		}
	}
}

// check logs line(rise) when cur rose past what was last told and the
// key has been quiet long enough.
func (w *limitWatch) check(now time.Time, key string, cur [2]int64, keep map[string]bool, line func(rise [2]int64) string) {
	keep[key] = true
	s := w.seen[key]
	if s == nil {
		// The first sight of a workload tells what it did before, so a
		// box that restarted its watch (or a workload that hit its limit
		// before the first poll) still says so.
		s = &limitSeen{}
		w.seen[key] = s
	}
	if cur[0] < s.told[0] || cur[1] < s.told[1] {
		// A workload made anew (a changed spec) counts from zero again.
		s.told = cur
		return
	}
	if cur == s.told || now.Sub(s.toldAt) < w.quiet {
		return
	}
	w.logf("%s", line([2]int64{cur[0] - s.told[0], cur[1] - s.told[1]}))
	s.told, s.toldAt = cur, now
}

// limitSubjects are the box's workloads with limits, and their parent.
func (b *Box) limitSubjects() []limitSubject {
	var out []limitSubject
	if r := stageOf[*reserveStage](b); r != nil {
		if h, path := r.hits(); h != nil {
			out = append(out, limitSubject{"all workloads (" + path + ")", *h})
		}
	}
	for _, st := range b.workloadStages() {
		p := st.Pool()
		if p == nil {
			continue
		}
		for _, w := range p.Statuses() {
			if w.Limits != nil {
				out = append(out, limitSubject{w.Kind + " " + w.Name, *w.Limits})
			}
		}
	}
	return out
}

// watchLimits polls the limit counts until the box shuts down, as one of
// the box's long-lived parts: after a panic the loop runs again (goLoop),
// with the counts it had seen.
func (b *Box) watchLimits() {
	w := newLimitWatch(b.logger("limits: ").Printf)
	b.goLoop("limits watch", func() {
		t := time.NewTicker(limitsPoll)
		defer t.Stop()
		for range t.C {
			if b.shuttingDown() {
				return
			}
			w.observe(time.Now(), b.limitSubjects())
		}
	})
}

// size is a memory limit for people: whole GiB or MiB when it is one.
func size(n int64) string {
	switch {
	case n <= 0:
		return "max"
	case n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func count(n int64) string {
	if n <= 0 {
		return "max"
	}
	return fmt.Sprint(n)
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
