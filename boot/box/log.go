package box

import (
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/nucbox/nucbox/internal/linelog"
	"github.com/nucbox/nucbox/internal/safe"
)

// logger is the log of one part of the box (a stage, live apply, the
// API): PID 1's log lines, each starting with the part's prefix.
type logger struct {
	logf   func(format string, args ...any)
	prefix string
}

// Printf prints one log line (or several: the later ones follow the
// first unprefixed, indented by the caller).
func (l logger) Printf(format string, args ...any) {
	if l.logf == nil {
		return
	}
	l.logf("%s", l.prefix+fmt.Sprintf(format, args...))
}

// Slog is the same log for the packages that take a *slog.Logger;
// quiet, when set and true, drops their Info records.
func (l logger) Slog(quiet *atomic.Bool) *slog.Logger { return linelog.New(l.Printf, quiet) }

// unprefixed is PID 1's log itself, for the lines that name their part
// (a panic names the goroutine).
func (l logger) unprefixed() safe.Logf {
	if l.logf == nil {
		return func(string, ...any) {}
	}
	return l.logf
}

// goSafe runs fn in a goroutine, logging a panic instead of ending PID 1.
func (l logger) goSafe(name string, fn func()) { safe.Go(l.unprefixed(), name, fn) }
