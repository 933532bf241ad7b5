// Package bar draws byte progress bars on a terminal and formats byte
// counts, for the image builder and for flashing; on anything else (a
// log, a pipe) the bar stays silent, because carriage-return redraws make
// logs unreadable.
package bar

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// New returns a writer that advances a bar of total bytes on w by the
// bytes written to it, and a function that removes the bar again. When w
// is nil or not a terminal both do nothing.
func New(w io.Writer, description string, total int64) (io.Writer, func()) {
	if w == nil || !IsTerminal(w) {
		return io.Discard, func() {}
	}
	b := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(description),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(80*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return b, func() { _ = b.Finish() }
}

// Size formats a byte count in binary units, as ls -h and du -h do.
func Size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
