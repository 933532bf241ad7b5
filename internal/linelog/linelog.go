package linelog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
)

// Handler is a slog.Handler that prints each record it keeps as one
// line through Printf.
type Handler struct {
	// Printf prints one log line; it adds the part's prefix.
	Printf func(format string, args ...any)
	// Quiet, when set and true, drops Info records too: a caller that
	// sums up a package's progress in its own words quiets it meanwhile.
	Quiet *atomic.Bool

	attrs []slog.Attr
}

// New is a logger whose lines go to printf.
func New(printf func(format string, args ...any), quiet *atomic.Bool) *slog.Logger {
	return slog.New(&Handler{Printf: printf, Quiet: quiet})
}

func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	if h.Quiet != nil && h.Quiet.Load() {
		return l >= slog.LevelWarn
	}
	return l >= slog.LevelInfo
}

func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	if r.Level >= slog.LevelWarn {
		b.WriteString(strings.ToLower(r.Level.String()) + ": ")
	}
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.Printf("%s", b.String())
	return nil
}

func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{Printf: h.Printf, Quiet: h.Quiet, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *Handler) WithGroup(string) slog.Handler { return h }
