package image

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress prints the build's steps as numbered lines and, on a terminal,
// a byte progress bar while the archive is written and compressed. In a
// log (make output, CI) the bar is left out: carriage-return redraws make
// logs unreadable, and the step lines already say where a build stopped.
type progress struct {
	w     io.Writer
	tty   bool
	steps int
	n     int
	start time.Time
}

func newProgress(w io.Writer, steps int) *progress {
	p := &progress{w: w, steps: steps, start: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *progress) printf(format string, args ...any) {
	if p.w != nil {
		fmt.Fprintf(p.w, format, args...)
	}
}

// step reports one finished step.
func (p *progress) step(label, format string, args ...any) {
	p.n++
	p.printf("[%d/%d] %-9s %s\n", p.n, p.steps, label, fmt.Sprintf(format, args...))
}

// bar returns a writer that advances a bar by the bytes written to it, and
// a function that removes the bar again. Without a terminal both do
// nothing.
func (p *progress) bar(label string, total int64) (io.Writer, func()) {
	if p.w == nil || !p.tty {
		return io.Discard, func() {}
	}
	b := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(fmt.Sprintf("[%d/%d] %-9s", p.n+1, p.steps, label)),
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

func (p *progress) summary(r *Result) {
	p.printf("built in %s\n", time.Since(p.start).Round(10*time.Millisecond))
	p.printf("  kernel        %10s  %s\n", size(r.KernelBytes), r.Kernel)
	p.printf("  initramfs     %10s  %s\n", size(r.InitramfsBytes), r.Initramfs)
	p.printf("  uncompressed  %10s  %d files, %d kernel modules\n", size(r.UncompressedBytes), r.Files, len(r.Modules))
}

// size formats a byte count in binary units, as ls -h and du -h do.
func size(n int64) string {
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
