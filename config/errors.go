package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a config file, located by position and by the
// field path the user would write (vms[1].memory, uplink.ipv4.gateway).
// Line and Column are 1-based; they are 0 for a Config validated without a
// file (see Config.Validate).
type Error struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// Error formats as FILE:LINE:COLUMN: PATH: MESSAGE, leaving out what is
// unknown, so editors and terminals can jump to the spot.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", e.Line, e.Column)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ErrorList is every problem found in one config, sorted by position. The
// loader returns all of them at once so that a user fixes a file in one
// round instead of one error per boot.
type ErrorList []*Error

// Error is one line per problem.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sort orders by position; problems without a position (from Validate,
// which has no file) keep the order they were found in, which follows the
// config's own order.
func (l ErrorList) sort() {
	slices.SortStableFunc(l, func(a, b *Error) int {
		la, lb := a.Line, b.Line
		if la == 0 {
			la = int(^uint(0) >> 1)
		}
		if lb == 0 {
			lb = int(^uint(0) >> 1)
		}
		if a.Line == 0 && b.Line == 0 {
			return 0
		}
		return cmp.Or(cmp.Compare(la, lb), cmp.Compare(a.Column, b.Column), cmp.Compare(a.Path, b.Path))
	})
}

// maxErrors bounds the list: past that, more lines bury the first ones on
// a serial console without helping.
const maxErrors = 100

// err returns the list as an error, or nil when it is empty, so that a
// caller never sees a non-nil error holding no problems.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	l.sort()
	if len(l) > maxErrors {
		more := len(l) - maxErrors
		l = append(l[:maxErrors:maxErrors], &Error{File: l[0].File, Message: fmt.Sprintf("and %d more problems", more)})
	}
	return l
}

// oneLine keeps each problem on one line whatever text a message quotes
// from the file or from a library's error.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`).Replace(s)
}
